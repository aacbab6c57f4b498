"""The time left in a run, from its progress events alone: a pure function of the plan and
the events, so a recorded run can be replayed against it. No Keras, no clock.

The plan lists the steps of a run with the work each does (images through a kind of work,
and for a training step its epochs). Rates are measured as steps run: seconds per image for
decoding, a backbone's forward pass and a head's, and for training, per image trained. Until
one epoch has been measured the answer is a range; after it, one figure from the measured
epochs, which never reaches zero before the last step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from model_zoo.finetune.events import Progress, ProgressFn
from model_zoo.finetune.settings import TrainConfig

Kind = Literal["decode", "build", "forward", "head"]

# Seconds per unit before anything is measured: an image decoded and resized, a backbone
# built, a 224-pixel image through a backbone (batch 32, 2 cores; a smaller image counts as
# its share of the pixels), an image's features through a head.
PRIOR_SECONDS: dict[str, float] = {"decode": 0.005, "build": 3.0, "forward": 0.04, "head": 0.001}
_PRIOR_SIDE = 224
TRAIN_FACTOR = 3.0  # a training image costs about a forward pass and two for the gradients
GUESS_RANGE = (0.5, 2.0)  # before one epoch is measured, the time left is this range of a guess
_RECENT = 3  # epochs averaged for an epoch's length
FINE_TUNE_COST = 1.5  # part of the backbone trains too: a guess until its first epoch
TRACE_SECONDS = 1.0  # tracing a model's forward pass, until the first validation pass


@dataclass(frozen=True)
class Step:
    """One step of a plan.

    Attributes:
        name: The phase, or ``"RUN|phase"`` in a leaderboard (each combination has its own).
        kind: The work it does, whose rate is shared with other steps of that kind.
        images: Images through that work (per epoch, the training images, for a training step).
        epochs: 0 for a single pass; else the epochs of a training step.
        val_images: A training step's validation images per epoch.
        cost: A training step's cost against the measured training rate of its kind
            (fine-tuning trains part of the backbone too).
        traces: Functions the step traces before its first batch (a new model's forward
            pass), each costing what tracing the validation pass was measured to cost.
    """

    name: str
    kind: Kind
    images: float
    epochs: int = 0
    val_images: float = 0.0
    cost: float = 1.0
    traces: float = 0.0


@dataclass(frozen=True)
class Estimate:
    """The time left: ``low == high`` once measured, a range before; both None when there
    is nothing to go on yet."""

    low: float | None
    high: float | None

    @property
    def settled(self) -> bool:
        return self.low is not None and self.low == self.high


@dataclass
class _Epochs:
    """What a training step has measured: seconds of each finished epoch's two passes."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    epoch: int = 0
    origin: float = 0.0  # when the current epoch's work began (the last epoch's end)
    first_batch_at: float | None = None  # epoch 1 of a step is timed from its first batch
    last_train_at: float | None = None
    first_val_at: float | None = None
    val_total: int = 0
    train_done: int = 0
    train_total: int = 0

    def seconds(self, recent: list[float]) -> float:
        # The first epoch pays for tracing its validation pass: dropped once others exist.
        values = recent[1:] if len(recent) > 1 else recent
        return sum(values[-_RECENT:]) / len(values[-_RECENT:])


class Estimator:
    """Folds progress events into estimates of the time left; deterministic in its events."""

    def __init__(self, plan: Sequence[Step]) -> None:
        self.plan = list(plan)
        self.names = [s.name for s in self.plan]
        self.rates = dict(PRIOR_SECONDS)
        self.train_rates: dict[str, float] = {}
        self.measured: set[str] = set()
        self.index = -1
        self.step_start = 0.0
        self.last_at = 0.0
        self.epochs = _Epochs()
        self.settled = False
        self.trace_seconds = TRACE_SECONDS

    def add(self, at: float, progress: Progress) -> Estimate:
        """The estimate after ``progress``, which happened ``at`` seconds into the run."""
        name = f"{progress.run}|{progress.phase}" if progress.run else progress.phase
        if name not in self.names:
            self.last_at = at
            return self._estimate(at, None)
        index = self.names.index(name)
        if index != self.index:
            self._begin(index, at)
        step = self.plan[index]
        if step.epochs:
            self._epoch_event(step, progress, at)
        else:
            self._pass_event(step, progress, at)
        self.last_at = at
        return self._estimate(at, progress)

    def _begin(self, index: int, at: float) -> None:
        if 0 <= self.index < len(self.plan) and self.plan[self.index].kind == "build":
            self._measure("build", at - self.step_start)
        self.index, self.step_start = index, self.last_at
        self.epochs = _Epochs(origin=self.last_at)

    def _measure(self, kind: str, seconds_per_image: float) -> None:
        if seconds_per_image > 0:
            self.rates[kind] = seconds_per_image
            self.measured.add(kind)

    def _pass_event(self, step: Step, progress: Progress, at: float) -> None:
        fraction = min(progress.done / max(progress.total, 1), 1.0)
        if fraction > 0 and step.images > 0 and step.kind != "build":
            spent = at - self.step_start - step.traces * self.trace_seconds
            self._measure(step.kind, max(spent, 0) / (fraction * step.images))

    def _epoch_event(self, step: Step, progress: Progress, at: float) -> None:
        e = self.epochs
        if progress.epoch != e.epoch:  # a new epoch; the last one had no validation events
            if e.epoch and e.last_train_at is not None:
                self._end_epoch(step, e.last_train_at)
            e.epoch, e.first_batch_at, e.last_train_at, e.train_done = progress.epoch, None, None, 0
            e.first_val_at = None
        if progress.validating:
            if e.first_val_at is None:
                e.first_val_at, e.val_total = at, progress.total
            if e.last_train_at is not None and progress.done >= progress.total:
                self._end_epoch(step, at)
                e.last_train_at = None
            return
        e.train_done, e.train_total = progress.done, progress.total
        if e.first_batch_at is None:
            e.first_batch_at = at
        e.last_train_at = at

    def _end_epoch(self, step: Step, at: float) -> None:
        e = self.epochs
        assert e.last_train_at is not None and e.first_batch_at is not None
        val = at - e.last_train_at
        if not e.train and e.train_total > 1:  # from the first batches' ends: no tracing
            batches = max(e.train_done - 1, 1)
            train = (e.last_train_at - e.first_batch_at) * e.train_total / batches
            if e.first_val_at is not None and e.val_total > 1:
                val = (at - e.first_val_at) * e.val_total / (e.val_total - 1)
                # Before its first batch, the validation pass traced its function.
                self.trace_seconds = max(e.first_val_at - e.last_train_at - val / e.val_total, 0)
            elif step.images:  # one validation batch: a forward pass at the training pace
                val = train / step.images * step.val_images / TRAIN_FACTOR
        else:
            train = e.last_train_at - e.origin
        e.train.append(max(train, 1e-6))
        e.val.append(max(val, 0.0))
        e.origin, self.settled = at, True
        if step.images:
            self.train_rates[step.kind] = e.seconds(e.train) / (step.images * step.cost)
        if step.val_images:
            self._measure(step.kind, e.seconds(e.val) / step.val_images)

    def _train_rate(self, kind: str) -> float:
        return self.train_rates.get(kind, self.rates[kind] * TRAIN_FACTOR)

    def _step_seconds(self, step: Step) -> float:
        if step.epochs:
            per_epoch = step.images * self._train_rate(step.kind) * step.cost
            epochs = step.epochs * (per_epoch + step.val_images * self.rates[step.kind])
            return step.traces * self.trace_seconds + epochs
        return step.traces * self.trace_seconds + step.images * self.rates[step.kind]

    def _current_seconds(self, step: Step, progress: Progress, at: float) -> float:
        if not step.epochs:
            fraction = min(progress.done / max(progress.total, 1), 1.0)
            spent = at - self.step_start
            if step.kind == "build":
                return max(self.rates["build"] - spent, 0.0)
            tracing = max(step.traces * self.trace_seconds - spent, 0) if fraction < 1 else 0.0
            return (1 - fraction) * step.images * self.rates[step.kind] + tracing
        e = self.epochs
        if e.train:
            train, val = e.seconds(e.train), e.seconds(e.val)
        else:
            train = step.images * self._train_rate(step.kind) * step.cost
            val = step.val_images * self.rates[step.kind]
            if e.first_batch_at is not None and e.train_done > 1:  # this epoch's own pace
                train = (at - e.first_batch_at) / (e.train_done - 1) * max(e.train_total, 1)
        later = max(step.epochs - max(progress.epoch, 1), 0) * (train + val)
        if progress.validating:
            return later + (1 - progress.done / max(progress.total, 1)) * val
        left = 1 - progress.done / max(progress.total, 1)
        return later + left * train + val

    def _estimate(self, at: float, progress: Progress | None) -> Estimate:
        if progress is None or self.index < 0:
            return Estimate(None, None)
        step = self.plan[self.index]
        left = self._current_seconds(step, progress, at)
        left += sum(self._step_seconds(s) for s in self.plan[self.index + 1 :])
        if not self.settled:
            if not self.measured:
                return Estimate(None, None)
            return Estimate(left * GUESS_RANGE[0], left * GUESS_RANGE[1])
        last = self.index == len(self.plan) - 1
        if not last:  # "0 s left" only ever in the last step
            left = max(left, 1.0)
        return Estimate(left, left)


def estimates(plan: Sequence[Step], events: Iterable[tuple[float, Progress]]) -> list[Estimate]:
    """Each event's estimate of the time left, replaying ``events`` (seconds into the run,
    progress) in order."""
    estimator = Estimator(plan)
    return [estimator.add(at, progress) for at, progress in events]


def eta_text(low: float | None, high: float | None, stopping: bool = False) -> str:
    """What the page says about the time left."""
    if stopping:
        return "stopping…"
    if low is None or high is None:
        return "estimating the time left…"
    if low != high:
        lower, upper = _duration(low), _duration(high)
        if lower.endswith(" s") and upper.endswith(" s") and "min" not in upper:
            lower = lower[:-2]
        return f"roughly {lower}–{upper} left (estimating)"
    if low < 1:
        return "finishing…"
    return f"about {_duration(low)} left"


def _duration(seconds: float) -> str:
    seconds = max(round(seconds), 1)
    if seconds < 90:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return (
        f"{minutes} min {rest:02d} s"
        if minutes < 60
        else f"{minutes // 60} h {minutes % 60:02d} min"
    )


def timed(on_progress: ProgressFn, plan: Sequence[Step]) -> ProgressFn:
    """``on_progress`` with each report stamped with its time into the run and the time
    left by the plan, counted from now."""
    estimator, start = Estimator(plan), time.perf_counter()

    def report(progress: Progress) -> None:
        at = time.perf_counter() - start
        estimate = estimator.add(at, progress)
        on_progress(replace(progress, at=at, eta_low=estimate.low, eta_high=estimate.high))

    return report


def run_plan(
    config: TrainConfig, n_images: int, n_val: int, n_test: int, cached: bool
) -> list[Step]:
    """The plan of training ``config`` on ``n_images`` (``n_val`` and ``n_test`` held out)."""
    n_train = float(n_images - n_val - n_test)
    plan = [Step("loading images", "decode", n_images), Step("building the backbone", "build", 1)]
    on_features = config.uses_cached_features
    area = _area(config)
    if on_features and not cached:
        plan.append(Step("extracting features", "forward", n_images * area))
    if on_features:
        plan.append(Step("training head", "head", n_train, config.epochs, n_val, traces=1))
    else:
        epochs = config.epochs
        plan.append(
            Step("training head", "forward", n_train * area, epochs, n_val * area, traces=1)
        )
    if config.unfreeze > 0:
        # Until its first epoch is measured: the training pace on images, and then some.
        epochs, cost = config.fine_tune_epochs, FINE_TUNE_COST
        plan.append(
            Step("fine-tuning", "forward", n_train * area, epochs, n_val * area, cost, traces=1)
        )
    # The test split once through the whole model, the validation split too unless the head
    # did it on features; a new forward pass, traced for full and last batches.
    judged = n_test + (0 if on_features and config.unfreeze == 0 else n_val)
    plan.append(Step("evaluating", "forward", judged * area, traces=2))
    return plan


def _area(config: TrainConfig) -> float:
    """An image of ``config``'s size, in 224-pixel images' worth of work."""
    return (config.size / _PRIOR_SIDE) ** 2


def grid_plan(
    configs: Sequence[TrainConfig],
    heads: Sequence[str],
    n_images: int,
    n_val: int,
    n_test: int,
    cached: set[str],
) -> list[Step]:
    """The plan of a leaderboard: per backbone (in ``configs``' order) images loaded when its
    size is new, one feature pass unless ``cached``, the test images once more; then every
    head on those features."""
    n_train = float(n_images - n_val - n_test)
    plan: list[Step] = []
    sizes: set[int] = set()
    for config in configs:
        name = config.backbone
        if config.size not in sizes:
            sizes.add(config.size)
            plan.append(Step(f"{name}|loading images", "decode", n_images))
        plan.append(Step(f"{name}|building the backbone", "build", 1))
        area = _area(config)
        if name not in cached:
            plan.append(Step(f"{name}|extracting features", "forward", n_images * area))
        plan.append(Step(f"{name}|evaluating", "forward", n_test * area))
        for head in heads:
            run = f"{name} + {head}"
            plan.append(Step(f"{run}|training head", "head", n_train, config.epochs, n_val))
            plan.append(Step(f"{run}|evaluating", "head", n_val + n_test))
    return plan
