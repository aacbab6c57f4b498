"""A leaderboard of backbone × head combinations on one dataset: its rows, its choices and its
CSV. No Keras: ``grid.train_grid`` runs the grid; the page and the CLI read rows here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model_zoo import untrusted
from model_zoo.finetune.calibration import wilson_interval
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.settings import HEADS
from model_zoo.registry import MODELS, split_names
from model_zoo.wording import run_key, run_label

ROW_KEYS = (
    "backbone",
    "head",
    "test_accuracy",
    "test_interval",
    "val_loss",
    "train_seconds",
    "feature_seconds",
    "size_mb",
    "ms_per_image",
)
CSV_FILE = "leaderboard.csv"


@dataclass(frozen=True)
class Row:
    """One combination's result.

    Attributes:
        backbone: Registry name.
        head: One of ``HEADS``.
        test_accuracy: On the test split, touched once after training.
        test_interval: Its 95% Wilson interval.
        val_loss: On the validation split, at the best epoch.
        train_seconds: Training the head (and judging it); the feature pass excluded.
        feature_seconds: The backbone's feature pass, shared by its heads (0 when cached).
        size_mb: The model's weights, in MB (float32).
        ms_per_image: The whole model on one image (TensorFlow, batch of 1, this machine).
        test_images: Images in the test split.
        stopped: Stop ended this combination's training early.
    """

    backbone: str
    head: str
    test_accuracy: float
    test_interval: tuple[float, float]
    val_loss: float
    train_seconds: float
    feature_seconds: float
    size_mb: float
    ms_per_image: float
    test_images: int
    stopped: bool = False

    @property
    def key(self) -> str:
        return run_key(self.backbone, self.head)

    @property
    def label(self) -> str:
        return run_label(self.key)

    @classmethod
    def of(cls, result: TrainResult, ms_per_image: float, size_mb: float) -> Row:
        ev = result.evaluation
        correct = int((ev.predictions == ev.labels).sum())
        return cls(
            backbone=result.config.backbone,
            head=result.config.head,
            test_accuracy=ev.accuracy,
            test_interval=wilson_interval(correct, len(ev.labels)),
            val_loss=ev.val_loss,
            train_seconds=result.seconds,
            feature_seconds=result.feature_seconds,
            size_mb=size_mb,
            ms_per_image=ms_per_image,
            test_images=len(ev.labels),
            stopped=result.stopped,
        )

    def to_dict(self) -> dict[str, object]:
        """The row as JSON data: ``ROW_KEYS``, then ``test_images`` and ``stopped``."""
        return {
            "backbone": self.backbone,
            "head": self.head,
            "test_accuracy": round(self.test_accuracy, 4),
            "test_interval": [round(self.test_interval[0], 4), round(self.test_interval[1], 4)],
            "val_loss": round(self.val_loss, 4),
            "train_seconds": round(self.train_seconds, 2),
            "feature_seconds": round(self.feature_seconds, 2),
            "size_mb": round(self.size_mb, 1),
            "ms_per_image": round(self.ms_per_image, 1),
            "test_images": self.test_images,
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        low, high = data["test_interval"]
        return cls(**{**data, "test_interval": (float(low), float(high))})


def ranked(rows: Iterable[Row]) -> list[Row]:
    """Best first: test accuracy, then the lower validation loss, then the faster model."""
    return sorted(rows, key=lambda r: (-r.test_accuracy, r.val_loss, r.ms_per_image))


def parse_choice(value: str | Sequence[str], known: Sequence[str], what: str) -> list[str]:
    """``"all"`` or a comma-separated list (or a list) of names, checked and deduplicated.

    Raises:
        ValueError: an unknown name, or none at all.
    """
    names = split_names(value, what)
    if names == ["all"]:
        return list(known)
    for name in names:
        if name not in known:
            raise ValueError(f"Unknown {what} {name!r}. Expected one of {sorted(known)} or 'all'.")
    if not names:
        raise ValueError(f"Pick at least one {what}.")
    return list(dict.fromkeys(names))


def parse_grid(backbones: str | Sequence[str], heads: str | Sequence[str]) -> list[tuple[str, str]]:
    """The (backbone, head) combinations of a leaderboard, backbone by backbone."""
    return [
        (b, h)
        for b in parse_choice(backbones, list(MODELS), "backbone")
        for h in parse_choice(heads, list(HEADS), "head")
    ]


def to_csv(rows: Sequence[Row]) -> str:
    """The rows as CSV, one column per ``ROW_KEYS`` entry (the interval as two columns)."""
    header = ["rank", *ROW_KEYS[:3], "test_low", "test_high", *ROW_KEYS[4:], "test_images"]
    lines = []
    for rank, row in enumerate(rows, 1):
        d = row.to_dict()
        low, high = (round(x, 4) for x in row.test_interval)
        values = [d[k] for k in ROW_KEYS if k != "test_interval"]
        lines.append([rank, *values[:3], low, high, *values[3:], d["test_images"], d["stopped"]])
    return untrusted.to_csv([*header, "stopped"], lines)
