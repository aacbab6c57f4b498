"""Judging a fine-tuned model on held-out images, and a finished run's result."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.finetune.events import EpochLog
from model_zoo.finetune.settings import TrainConfig
from model_zoo.images import resize, thumbnail
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
    """The validation split, judged by the final model (its best epoch's weights).

    Attributes:
        accuracy: Fraction of validation images classified right.
        loss: Mean cross-entropy on the validation images.
        confusion: ``confusion[true, predicted]`` counts.
        per_class: Precision, recall, F1 and support per class.
        probabilities: ``(N, classes)`` outputs for the validation images.
        labels: True labels.
        thumbnails: Small copies of the validation images, for galleries.
    """

    accuracy: float
    loss: float
    confusion: np.ndarray
    per_class: tuple[ClassReport, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    thumbnails: tuple[np.ndarray, ...]

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def mistakes(self, limit: int = 12) -> list[int]:
        """Validation indices wrongly classified, most confident first."""
        pred = self.predictions
        wrong = np.flatnonzero(pred != self.labels)
        confidence = self.probabilities[wrong, pred[wrong]]
        return [int(i) for i in wrong[np.argsort(-confidence, kind="stable")][:limit]]

    def cell(self, true: int, predicted: int) -> list[int]:
        """Validation indices with this true and predicted class (a confusion-matrix cell)."""
        return [
            int(i) for i in np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        ]


@dataclass
class TrainResult:
    """A finished (or stopped) run: the model and everything the results page shows."""

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

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities for RGB uint8 images of any size (squashed to the input size)."""
        batch = np.stack([resize(img, self.config.size) for img in images])
        return np.asarray(self.model.predict_on_batch(batch))


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of the true classes' probabilities (clipped, as Keras does)."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1))))


def evaluate(
    model: Any, pixels: np.ndarray, labels: np.ndarray, classes: Sequence[str], batch_size: int = 32
) -> Evaluation:
    """Judges ``model`` (raw pixels in) on held-out images."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    # A compiled function: an eager model(...) call grew the process by gigabytes (Xception
    # at 299, batches of 32) and never gave them back. predict_on_batch is one; across
    # machines it returns every worker's copy of the batch, so a plain tf.function serves.
    predict = model.predict_on_batch
    if os.environ.get("TF_CONFIG"):
        predict = runtime.tensorflow().function(lambda x: model(x, training=False))
    probs = np.concatenate(
        [
            np.asarray(predict(np.asarray(pixels[i : i + batch_size], np.float32)))
            for i in range(0, len(pixels), batch_size)
        ]
    )
    n = len(classes)
    pred = probs.argmax(axis=1)
    loss = cross_entropy(probs, labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=list(range(n)), zero_division=0
    )
    return Evaluation(
        accuracy=float(np.mean(pred == labels)),
        loss=loss,
        confusion=confusion_matrix(labels, pred, labels=list(range(n))),
        per_class=tuple(
            ClassReport(
                classes[i], float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])
            )
            for i in range(n)
        ),
        probabilities=probs,
        labels=labels,
        thumbnails=tuple(thumbnail(p, 128) for p in pixels),
    )
