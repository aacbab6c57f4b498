"""Honest numbers about a classifier's confidence: intervals, calibration, abstention.

Pure NumPy, no Keras: accuracy's Wilson interval, the reliability diagram and expected
calibration error (ECE), temperature scaling fitted on validation logits (one number), and
the coverage/accuracy trade-off of answering "not sure" below a confidence threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    Better than ``p ± z·sqrt(p(1-p)/n)`` for small ``total`` and for proportions near 0 or 1,
    where that one leaves [0, 1] or has zero width.

    Raises:
        ValueError: ``total`` < 1 or ``correct`` outside 0..total.
    """
    if total < 1:
        raise ValueError(f"An interval needs at least one trial, got {total}.")
    if not 0 <= correct <= total:
        raise ValueError(f"Correct must be within 0..{total}, got {correct}.")
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, numerically stable."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(scaled).sum(axis=1))
    return float(np.mean(log_norm - scaled[np.arange(len(labels)), labels]))


MAX_TEMPERATURE = 20.0  # the fit's upper bound: a model there says nearly nothing


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = MAX_TEMPERATURE
) -> float:
    """The temperature T minimising the NLL of ``softmax(logits / T)`` (golden-section search
    over log T; the NLL is convex in 1/T). Fit it on validation data, never on the test set.

    Raises:
        ValueError: no samples.
    """
    if len(labels) == 0:
        raise ValueError("Temperature scaling needs at least one validation sample.")
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(logits, labels, math.exp(c)), nll(logits, labels, math.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(logits, labels, math.exp(d))
    return math.exp((a + b) / 2)


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per confidence bin, how often the answer was right.

    Attributes:
        edges: ``bins + 1`` bin edges over [0, 1].
        counts: Samples per bin.
        confidence: Mean top-1 probability per bin (NaN where empty).
        accuracy: Fraction correct per bin (NaN where empty).
        ece: Expected calibration error: the count-weighted mean |accuracy - confidence|.
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> Reliability:
    """Bins the top-1 confidences into ``bins`` equal-width bins (the usual ECE).

    Raises:
        ValueError: no samples.
    """
    if len(labels) == 0:
        raise ValueError("A reliability diagram needs at least one sample.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, bins) / counts
        mean_acc = np.bincount(which, correct.astype(float), bins) / counts
    gaps = np.where(counts > 0, np.abs(mean_acc - mean_conf), 0.0)
    ece = float(np.sum(counts * gaps) / len(labels))
    return Reliability(edges, counts, mean_conf, mean_acc, ece)


@dataclass(frozen=True)
class Abstention:
    """Answering "not sure" below a confidence threshold: what is kept and how good it is.

    Attributes:
        thresholds: Candidate thresholds, ascending.
        coverage: Fraction of samples answered (top-1 confidence ≥ threshold).
        accuracy: Accuracy on the answered samples (NaN where none is answered).
    """

    thresholds: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray

    def at(self, threshold: float) -> tuple[float, float]:
        """(coverage, accuracy) at the largest candidate threshold ≤ ``threshold``."""
        i = max(0, int(np.searchsorted(self.thresholds, threshold, side="right")) - 1)
        return float(self.coverage[i]), float(self.accuracy[i])


def abstention_curve(probabilities: np.ndarray, labels: np.ndarray, steps: int = 101) -> Abstention:
    """Coverage and accuracy for thresholds 0, 0.01, …, 1."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    thresholds = np.linspace(0.0, 1.0, steps)
    coverage = np.array([(confidence >= t).mean() for t in thresholds])
    with np.errstate(invalid="ignore"):
        accuracy = np.array(
            [
                correct[confidence >= t].mean() if (confidence >= t).any() else np.nan
                for t in thresholds
            ]
        )
    return Abstention(thresholds, coverage, accuracy)


def calibrate(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of softmax outputs, ``softmax(log(p) / T)``, for one vector or a
    batch of rows."""
    probs = np.asarray(probabilities)
    scaled = softmax(np.log(np.clip(np.atleast_2d(probs), 1e-12, 1.0)), temperature)
    return scaled.reshape(probs.shape)
