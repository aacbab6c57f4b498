"""What a run tells while it goes: progress with the time left in the whole run, and each
epoch's metrics. No Keras."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from model_zoo.finetune.settings import TrainConfig

Phase = Literal[
    "starting TensorFlow",
    "loading images",
    "building the backbone",
    "extracting features",
    "training head",
    "fine-tuning",
    "evaluating",
]
JobState = Literal["running", "done", "stopped", "failed"]


@dataclass(frozen=True)
class EpochLog:
    """One epoch's metrics, for the live charts and ``--json-progress``."""

    phase: str
    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    run: str = ""  # a leaderboard's combination ("resnet50 + gap"); empty in a single run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """Where a run is: the phase, and work done of the current epoch or pass.

    ``eta_seconds`` is the time left in the whole run (every phase still to come), not only
    in this one; None until there is something to estimate it from.
    """

    phase: str
    done: int
    total: int
    epoch: int = 0
    epochs: int = 0
    eta_seconds: float | None = None
    run: str = ""  # a leaderboard's combination, or its backbone while features are made
    run_index: int = 0  # 1-based, of ``runs`` combinations
    runs: int = 0

    @property
    def unit(self) -> str:
        """What ``done`` and ``total`` count."""
        return "image" if self.phase == "loading images" else "batch"


ProgressFn = Callable[[Progress], None]
EpochFn = Callable[[EpochLog], None]


def noop(_: object) -> None:
    return None


# Seconds per unit of work before anything is measured: a 512-pixel JPEG decoded and
# resized ("decode"), one image through a backbone at batch size 32 on a 2-core CPU
# ("forward"), one image's features through a head for one epoch ("head"). The first
# measured batch of each kind replaces its prior.
_PRIOR_SECONDS = {"decode": 0.005, "forward": 0.1, "head": 0.001}
# A training step costs about a forward pass and two for the gradients.
_TRAIN_FACTOR = 3.0


class RunClock:
    """The time left in a whole run, from what each phase still has to do.

    The plan lists each phase with its kind of work ("decode", "forward" or "head") and its
    amount in images through that work; rates are measured as phases run, and a phase that never
    comes (cached features, early stopping) is dropped when a later one starts. In a
    leaderboard a phase is named ``"RUN|phase"``, as each combination has its own.
    """

    def __init__(self, plan: Sequence[tuple[str, str, float]]) -> None:
        self.plan = list(plan)
        self.rates = dict(_PRIOR_SECONDS)
        self._phase: str | None = None
        self._phase_start = 0.0

    def __call__(self, progress: Progress) -> Progress:
        """``progress`` with ``eta_seconds`` for the whole run."""
        names = [p[0] for p in self.plan]
        name = f"{progress.run}|{progress.phase}" if progress.run else progress.phase
        if name not in names:
            return progress
        index = names.index(name)
        if name != self._phase:
            self._phase, self._phase_start = name, time.perf_counter()
        _, kind, amount = self.plan[index]
        fraction = progress.done / max(progress.total, 1)
        if progress.epochs:
            fraction = (progress.epoch - 1 + fraction) / progress.epochs
        elapsed = time.perf_counter() - self._phase_start
        if fraction > 0 and amount > 0 and elapsed > 0:
            self.rates[kind] = elapsed / (amount * fraction)
        left = amount * (1 - min(fraction, 1.0)) * self.rates[kind]
        left += sum(a * self.rates[k] for _, k, a in self.plan[index + 1 :])
        return replace(progress, eta_seconds=left)


def timed(on_progress: ProgressFn, clock: RunClock) -> ProgressFn:
    def report(progress: Progress) -> None:
        on_progress(clock(progress))

    return report


def run_plan(config: TrainConfig, n_images: int, n_val: int, n_test: int, cached: bool) -> RunClock:
    """A ``RunClock`` for training ``config`` on ``n_images`` (``n_val`` and ``n_test`` held
    out)."""
    n_train = n_images - n_val - n_test
    epoch = n_train * _TRAIN_FACTOR + n_val  # a training epoch, then its validation pass
    plan = [("loading images", "decode", float(n_images)), ("building the backbone", "decode", 0)]
    if config.uses_cached_features:
        if not cached:
            plan.append(("extracting features", "forward", float(n_images)))
        plan.append(("training head", "head", float(n_train * config.epochs)))
    else:
        plan.append(("training head", "forward", epoch * config.epochs))
    if config.unfreeze > 0:
        plan.append(("fine-tuning", "forward", epoch * config.fine_tune_epochs))
    plan.append(("evaluating", "forward", float(n_test)))
    return RunClock(plan)


def grid_plan(
    configs: Sequence[TrainConfig],
    heads: Sequence[str],
    n_images: int,
    n_val: int,
    n_test: int,
    cached: set[str],
) -> RunClock:
    """A ``RunClock`` for a leaderboard: per backbone (in ``configs``' order) images loaded
    when its size is new, one feature pass unless ``cached``, the test images once more;
    then every head on those features."""
    n_train = n_images - n_val - n_test
    plan: list[tuple[str, str, float]] = []
    sizes: set[int] = set()
    for config in configs:
        name = config.backbone
        if config.size not in sizes:
            sizes.add(config.size)
            plan.append((f"{name}|loading images", "decode", float(n_images)))
        plan.append((f"{name}|building the backbone", "decode", 0))
        if name not in cached:
            plan.append((f"{name}|extracting features", "forward", float(n_images)))
        plan.append((f"{name}|evaluating", "forward", float(n_test)))
        for head in heads:
            run = f"{name} + {head}"
            plan.append((f"{run}|training head", "head", float(n_train * config.epochs)))
            plan.append((f"{run}|evaluating", "head", float(n_val + n_test)))
    return RunClock(plan)
