"""Judging a fine-tuned model on held-out images, and a finished run's result."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.finetune.calibration import (
    Abstention,
    Reliability,
    abstention_curve,
    calibrate,
    fit_temperature,
    reliability,
    wilson_interval,
)
from model_zoo.finetune.events import EpochLog
from model_zoo.finetune.settings import TrainConfig
from model_zoo.images import thumbnail
from model_zoo.weights import WeightsSource


@dataclass(frozen=True)
class ClassReport:
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """The test split, judged once by the final model (its best epoch's weights).

    Attributes:
        accuracy: Fraction of test images classified right.
        loss: Mean cross-entropy on the test images.
        confusion: ``confusion[true, predicted]`` counts.
        per_class: Precision, recall, F1 and support per class.
        probabilities: ``(N, classes)`` outputs of the model for the test images.
        labels: True labels.
        thumbnails: Small copies of the test images, for galleries.
        temperature: Divides the log-probabilities before the softmax (fitted on the
            validation split; 1 leaves them as they are).
        split_sizes: Images in the train, validation and test splits.
        val_loss: Mean cross-entropy on the validation split (it picked the best epoch).
        unweighted_recall: With class weighting, each class's test recall of the same head
            trained without it (``finetune.balance``); empty otherwise.
    """

    accuracy: float
    loss: float
    confusion: np.ndarray
    per_class: tuple[ClassReport, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    thumbnails: tuple[np.ndarray, ...]
    temperature: float = 1.0
    split_sizes: tuple[int, int, int] = (0, 0, 0)
    val_loss: float = float("nan")
    unweighted_recall: tuple[float, ...] = ()

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of ``accuracy``."""
        return wilson_interval(int(np.sum(self.predictions == self.labels)), len(self.labels))

    @property
    def calibrated(self) -> np.ndarray:
        """``probabilities`` after temperature scaling (the same top-1, honest confidence)."""
        return calibrate(self.probabilities, self.temperature)

    def reliability(self, calibrated: bool = True) -> Reliability:
        """The reliability diagram and ECE on the test split."""
        probs = self.calibrated if calibrated else self.probabilities
        return reliability(probs, self.labels, bins=RELIABILITY_BINS)

    def abstention(self) -> Abstention:
        """Coverage and accuracy on the test split when answering "not sure" below a
        calibrated confidence."""
        return abstention_curve(self.calibrated, self.labels)

    def mistakes(self, limit: int = 12) -> list[int]:
        """Test-split indices wrongly classified, most confident first."""
        pred = self.predictions
        wrong = np.flatnonzero(pred != self.labels)
        confidence = self.probabilities[wrong, pred[wrong]]
        return [int(i) for i in wrong[np.argsort(-confidence, kind="stable")][:limit]]

    def cell(self, true: int, predicted: int) -> list[int]:
        """Test-split indices with this true and predicted class (a confusion-matrix cell)."""
        return [
            int(i) for i in np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        ]


@dataclass
class TrainResult:
    """A finished (or stopped) run: the model and everything the results page shows.

    ``model``: the Keras model where it is in memory (the training process, the CLI); None
    where the result was read back from ``folder`` (``artifact.run_folder``), whose
    ``model.keras`` is then the model.
    """

    model: Any
    classes: tuple[str, ...]
    config: TrainConfig
    weights: WeightsSource
    history: list[EpochLog]
    evaluation: Evaluation
    stopped: bool
    best_epoch: int
    seconds: float
    feature_seconds: float = 0.0
    feature_images_per_second: float = 0.0
    feature_engine: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
    # Validation images at the input size (uint8, up to CHECK_IMAGES): exported formats are
    # compared with the Keras model on them.
    check_pixels: np.ndarray | None = None
    folder: Path | None = None


RELIABILITY_BINS = 10
CHECK_IMAGES = 32


def temperature_for(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that fits ``probabilities`` (the validation split) best."""
    return fit_temperature(np.log(np.clip(probabilities, 1e-12, 1.0)), labels)


def predict_batched(predict: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``predict`` over ``x`` in batches (float32), concatenated."""
    if len(x) == 0:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(
        [
            np.asarray(predict(np.asarray(x[i : i + batch_size], np.float32)))
            for i in range(0, len(x), batch_size)
        ]
    )


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of the true classes' probabilities (clipped, as Keras does)."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1))))


def model_predictor(model: Any) -> Callable[[np.ndarray], Any]:
    """A compiled forward pass of ``model`` for batches of raw pixels.

    An eager ``model(...)`` call grew the process by gigabytes (Xception at 299, batches of
    32) and never gave them back. ``predict_on_batch`` is compiled; across machines it
    returns every worker's copy of the batch, so a plain ``tf.function`` serves there.
    """
    if os.environ.get("TF_CONFIG"):
        return runtime.tensorflow().function(lambda x: model(x, training=False))
    return model.predict_on_batch


def evaluate(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    pixels: np.ndarray,
    *,
    validation: tuple[np.ndarray, np.ndarray],
    split_sizes: tuple[int, int, int],
) -> Evaluation:
    """Judges a model by its outputs on the test split.

    Args:
        probabilities: The model's outputs for the test images.
        labels: Their true labels.
        classes: Class names.
        pixels: The test images (for thumbnails).
        validation: The model's outputs and the labels on the validation split: they fit
            the temperature, so the test split stays untouched by every choice.
        split_sizes: Images in train, validation and test.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = len(classes)
    pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=list(range(n)), zero_division=0
    )
    val_probs, val_labels = validation
    return Evaluation(
        accuracy=float(np.mean(pred == labels)),
        loss=cross_entropy(probabilities, labels),
        confusion=confusion_matrix(labels, pred, labels=list(range(n))),
        per_class=tuple(
            ClassReport(
                classes[i], float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])
            )
            for i in range(n)
        ),
        probabilities=probabilities,
        labels=labels,
        thumbnails=tuple(thumbnail(p, 128) for p in pixels),
        temperature=temperature_for(val_probs, val_labels),
        split_sizes=split_sizes,
        val_loss=cross_entropy(val_probs, val_labels),
    )
