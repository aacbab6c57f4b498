"""Likely label errors: out-of-fold probabilities from small heads trained on the cached
backbone features (k-fold, seconds), ranked by confident learning (``cleanlab``).

Each image is judged by a head that never saw it: a logistic regression on the standardised
pooled features, trained on the other folds. ``cleanlab.rank`` scores each given label by
the self-confidence the head has in it (lowest first: most suspicious), and
``cleanlab.filter`` says which images confident learning counts as label issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FOLDS = 5
COMPONENTS = 32  # at most; fewer where a fold has fewer images


@dataclass(frozen=True)
class LabelCheck:
    """Every image's label, judged out of fold.

    Attributes:
        scores: Self-confidence in the given label, ``(N,)`` in [0, 1]; low is suspicious.
        suggested: The class the out-of-fold head prefers, ``(N,)``.
        flagged: Confident learning's label issues, ``(N,)`` bool.
        accuracy: Out-of-fold accuracy against the given labels.
    """

    scores: np.ndarray
    suggested: np.ndarray
    flagged: np.ndarray
    accuracy: float

    def ranked(self) -> np.ndarray:
        """Indices, most suspicious first."""
        return np.argsort(self.scores, kind="stable")


def linear_head(n_train: int, n_features: int) -> Any:
    """The doctor's small head: standardised features, their first ``COMPONENTS``
    principal components (fitted on the head's own training images), then a regularised
    logistic regression (scikit-learn). On 2048 ResNet50 features the components cut the
    five folds from 3 s to a fraction of one, and features still outnumber images."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        PCA(
            n_components=max(1, min(COMPONENTS, n_train - 1, n_features)),
            svd_solver="randomized",
            random_state=0,
        ),
        LogisticRegression(C=0.1, max_iter=300),
    )


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """``(N, C)`` probabilities, each row from a head trained without that image."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = int(min(FOLDS, np.bincount(labels).min()))
    if folds < 2:
        raise ValueError("Every class needs at least 2 images to judge its labels.")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    head = linear_head(len(labels) * (folds - 1) // folds, features.shape[1])
    probs = cross_val_predict(head, features, labels, cv=cv, method="predict_proba")
    return np.asarray(probs, dtype=np.float64)


def check_labels(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> LabelCheck:
    """Judges every label from ``features`` (``(N, D)`` pooled backbone features)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = out_of_fold_probabilities(features, labels, seed)
    scores = get_label_quality_scores(labels, probs, method="self_confidence")
    # n_jobs=1: cleanlab would fork workers, and forking a process that runs TensorFlow
    # or OpenVINO threads can deadlock the copies.
    flagged = find_label_issues(labels, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    suggested = probs.argmax(1)
    return LabelCheck(
        np.asarray(scores),
        suggested,
        np.asarray(flagged, bool),
        float((suggested == labels).mean()),
    )


__all__ = ["FOLDS", "LabelCheck", "check_labels", "linear_head", "out_of_fold_probabilities"]
