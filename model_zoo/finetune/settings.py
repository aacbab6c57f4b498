"""The settings of a fine-tuning run, checked, with no Keras: the page, the CLI and the
training process all read them from here."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from model_zoo.registry import ModelSpec, get_spec


@dataclass(frozen=True)
class HeadSpec:
    """A head, as data (as a ``ModelSpec`` is for a backbone): everything that differs
    between heads is here, and ``model.head_layers`` builds any of them.

    Attributes:
        name: Its id in settings, files and CSV columns.
        display_name: The short name tables and headings show.
        layers: The layers, for people.
        pooled: It starts with global average pooling (and trains on pooled features);
            else it flattens the whole feature map.
        hidden: Units of a ReLU Dense layer before the output; 0 for none.
        dropout: Dropout rate before the output; 0 for none.
    """

    name: str
    display_name: str
    layers: str
    pooled: bool = True
    hidden: int = 0
    dropout: float = 0.0


HEAD_SPECS: dict[str, HeadSpec] = {
    h.name: h
    for h in (
        HeadSpec(
            "dense_dropout",
            "dense 256 + dropout",
            "Flatten → Dense 256 (ReLU) → Dropout 0.5 → softmax",
            pooled=False,
            hidden=256,
            dropout=0.5,
        ),
        HeadSpec("gap", "global pool", "Global average pooling → softmax"),
        HeadSpec(
            "gap_dropout",
            "global pool + dropout",
            "Global average pooling → Dropout 0.5 → softmax",
            dropout=0.5,
        ),
    )
}
HEADS: dict[str, str] = {name: spec.layers for name, spec in HEAD_SPECS.items()}
Grid = tuple[list[str], list[str]]  # a leaderboard's backbones and heads
MAX_EPOCHS = 100
MAX_BATCH_SIZE = 256
MAX_SEED = 2**32 - 1  # what NumPy and TensorFlow seeds accept
FINE_TUNE_RATE_FACTOR = 0.1


class TrainingStopped(Exception):
    """Raised inside ``fit`` when the stop event is set: training ends within one batch."""


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run (see ``HEADS`` for the heads)."""

    backbone: str = "resnet50"
    head: str = "gap_dropout"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    val_split: float = 0.2
    test_split: float = 0.15
    augment: bool = False
    early_stopping: bool = True
    patience: int = 3
    unfreeze: int = 0
    fine_tune_epochs: int = 5
    image_size: int = 0  # 0: the backbone's own input size
    seed: int = 0
    keep_copies_together: bool = True  # exact and near copies of a photo in one split part
    class_weighted: bool = False  # weigh each class's loss by 1 / its share (Keras class_weight)

    @property
    def spec(self) -> ModelSpec:
        return get_spec(self.backbone)

    @property
    def size(self) -> int:
        return self.image_size or self.spec.input_size

    @staticmethod
    def fit_size(spec: ModelSpec, size: int) -> int:
        """``size`` brought into the range ``spec`` accepts (its minimum up to its own)."""
        return min(max(size, spec.min_input_size), spec.input_size)

    @property
    def uses_cached_features(self) -> bool:
        """The head's first stage trains on cached backbone features."""
        return not self.augment

    def validated(self) -> TrainConfig:
        """Returns self after checking every setting.

        Raises:
            ValueError: a setting is out of range (the message names it).
        """
        spec = get_spec(self.backbone)
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}. Expected one of {sorted(HEADS)}.")
        size_range = f"{spec.min_input_size}..{spec.input_size}"
        checks = [
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be 1..{MAX_EPOCHS}; got {self.epochs}"),
            (
                1 <= self.batch_size <= MAX_BATCH_SIZE,
                f"batch size must be 1..{MAX_BATCH_SIZE}; got {self.batch_size}",
            ),
            (
                0 < self.learning_rate <= 1,
                f"learning rate must be in (0, 1]; got {self.learning_rate}",
            ),
            (
                0.05 <= self.val_split <= 0.5,
                f"validation split must be between 0.05 and 0.5; got {self.val_split}",
            ),
            (
                0.05 <= self.test_split <= 0.4,
                f"test split must be between 0.05 and 0.4; got {self.test_split}",
            ),
            (
                self.val_split + self.test_split <= 0.6,
                "validation and test splits together must leave at least 40% for training; "
                f"got {self.val_split:g} + {self.test_split:g}",
            ),
            (self.patience >= 1, f"patience must be at least 1; got {self.patience}"),
            (self.unfreeze >= 0, f"unfreeze must be 0 or more layers; got {self.unfreeze}"),
            (
                1 <= self.fine_tune_epochs <= MAX_EPOCHS,
                f"fine-tune epochs must be 1..{MAX_EPOCHS}; got {self.fine_tune_epochs}",
            ),
            (0 <= self.seed <= MAX_SEED, f"seed must be 0..{MAX_SEED}; got {self.seed}"),
            (
                self.image_size == 0 or spec.min_input_size <= self.image_size <= spec.input_size,
                f"image size for {spec.display_name} must be {size_range}; got {self.image_size}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message[0].upper() + message[1:] + ".")
        if os.environ.get("TF_CONFIG") and (self.augment or self.unfreeze):
            # Keras 3's fit does not run across machines; _fit_multi_worker trains on arrays.
            raise ValueError(
                "Training across machines (TF_CONFIG) trains the head on cached features: "
                "leave out augmentation and unfreezing."
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "image_size": self.size}
