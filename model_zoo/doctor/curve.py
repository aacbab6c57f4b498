""" "Would more photos help?": a learning curve from the cached features. The doctor's head
trains on 20, 40, … 100% of the training split (each class in proportion, seeded) and is
judged on the test split, with a Wilson band; a curve still climbing at 100% says the next
photos are worth taking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_zoo.doctor.labels import linear_head
from model_zoo.finetune.calibration import wilson_interval
from model_zoo.finetune.split import Split

FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class CurvePoint:
    """The head trained on ``fraction`` of the training split, judged on the test split."""

    fraction: float
    per_class: float  # training images per class, on average
    accuracy: float
    low: float
    high: float


def _subset(train: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    taken: list[int] = []
    for cls in np.unique(labels[train]):
        own = rng.permutation(train[labels[train] == cls])
        taken.extend(own[: max(1, round(len(own) * fraction))])
    return np.sort(np.array(taken))


def learning_curve(
    features: np.ndarray, labels: np.ndarray, split: Split, seed: int = 0
) -> list[CurvePoint]:
    """One point per ``FRACTIONS``; empty when the test split is empty."""
    if len(split.test) == 0:
        return []
    points = []
    n_classes = len(np.unique(labels[split.train]))
    for fraction in FRACTIONS:
        part = _subset(split.train, labels, fraction, seed)
        if len(np.unique(labels[part])) < 2:
            continue
        head = linear_head(len(part), features.shape[1]).fit(features[part], labels[part])
        right = int((head.predict(features[split.test]) == labels[split.test]).sum())
        low, high = wilson_interval(right, len(split.test))
        points.append(
            CurvePoint(fraction, len(part) / n_classes, right / len(split.test), low, high)
        )
    return points


__all__ = ["FRACTIONS", "CurvePoint", "learning_curve"]
