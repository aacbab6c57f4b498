"""What a run tells while it goes: progress with the time left in the whole run, and each
epoch's metrics. No Keras."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

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

    phase: Phase
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

    ``eta_low`` and ``eta_high`` bound the time left in the whole run (every phase still to
    come): equal once an epoch has been measured, a range before, None until there is
    anything to go on (``model_zoo.finetune.eta``).
    """

    phase: Phase
    done: int
    total: int
    epoch: int = 0
    epochs: int = 0
    eta_low: float | None = None
    eta_high: float | None = None
    run: str = ""  # a leaderboard's combination, or its backbone while features are made
    run_index: int = 0  # 1-based, of ``runs`` combinations
    runs: int = 0
    validating: bool = False  # the epoch's validation pass (``done`` of ``total`` batches)
    at: float = 0.0  # seconds into the run

    @property
    def unit(self) -> str:
        """What ``done`` and ``total`` count."""
        return "image" if self.phase == "loading images" else "batch"

    @property
    def eta_seconds(self) -> float | None:
        """The time left, once it is one figure."""
        return self.eta_low if self.eta_low is not None and self.eta_low == self.eta_high else None


ProgressFn = Callable[[Progress], None]
EpochFn = Callable[[EpochLog], None]


def noop(_: object) -> None:
    return None
