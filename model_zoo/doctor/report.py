"""The doctor's findings on one dataset: what it found, as plain data, and the JSON of
``model-zoo doctor --json`` (images named by their entry names in the zip)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from model_zoo.datasets import Dataset
from model_zoo.doctor.curve import CurvePoint, learning_curve
from model_zoo.doctor.duplicates import copy_groups, leaks
from model_zoo.doctor.labels import check_labels
from model_zoo.doctor.lint import lint
from model_zoo.finetune.split import dataset_split, train_val_test_split

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class LabelIssue:
    """One image whose given label the out-of-fold heads doubt."""

    index: int
    given: int
    suggested: int
    score: float


@dataclass(frozen=True)
class Findings:
    """Everything the doctor found; images are indices in ``Dataset.samples()`` order.

    Attributes:
        duplicates: Groups of exact or near copies (each two or more indices).
        leaks: ``(group, each member's part)`` for groups the split would cut across.
        label_issues: Most suspicious first: confident learning's issues, and any image
            whose out-of-fold head prefers another class.
        lint: ``(index, issue)`` quality problems.
        accuracy: Out-of-fold accuracy of the k-fold heads (None without features).
        seconds: Time the doctor took, features excluded.
        feature_seconds: Time the feature pass took (0 when it was cached).
        curve: The learning curve (``doctor.curve``), empty without features.
    """

    duplicates: list[list[int]]
    leaks: list[tuple[list[int], list[str]]]
    label_issues: list[LabelIssue]
    lint: list[tuple[int, str]]
    accuracy: float | None = None
    seconds: float = 0.0
    feature_seconds: float = field(default=0.0, compare=False)
    curve: list[CurvePoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with indices (from a child process to the page)."""
        return {
            "duplicates": self.duplicates,
            "leaks": [[g, s] for g, s in self.leaks],
            "label_issues": [[i.index, i.given, i.suggested, i.score] for i in self.label_issues],
            "lint": [list(x) for x in self.lint],
            "accuracy": self.accuracy,
            "seconds": self.seconds,
            "feature_seconds": self.feature_seconds,
            "curve": [list(asdict(point).values()) for point in self.curve],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Findings:
        return cls(
            [[int(i) for i in g] for g in data["duplicates"]],
            [([int(i) for i in g], [str(p) for p in s]) for g, s in data["leaks"]],
            [LabelIssue(int(i), int(g), int(s), float(c)) for i, g, s, c in data["label_issues"]],
            [(int(i), str(why)) for i, why in data["lint"]],
            None if data.get("accuracy") is None else float(data["accuracy"]),
            float(data.get("seconds", 0.0)),
            float(data.get("feature_seconds", 0.0)),
            [CurvePoint(*map(float, point)) for point in data.get("curve", [])],
        )

    def report(self, dataset: Dataset) -> dict[str, Any]:
        """``model-zoo doctor --json``: the same findings named by zip entry names."""
        names = dataset.entry_names()
        classes = dataset.classes
        return {
            "duplicates": [[names[i] for i in g] for g in self.duplicates],
            "leaks": [{"files": [names[i] for i in g], "splits": s} for g, s in self.leaks],
            "label_issues": [
                {
                    "file": names[i.index],
                    "given": classes[i.given],
                    "suggested": classes[i.suggested],
                    "score": round(i.score, 4),
                }
                for i in self.label_issues
            ],
            "lint": [{"file": names[i], "issue": why} for i, why in self.lint],
        }


def split_parts(
    dataset: Dataset, val_split: float, test_split: float, seed: int
) -> dict[str, np.ndarray]:
    """The plain split ``model-zoo finetune`` starts from (before copies are kept
    together), as part name → indices."""
    split = train_val_test_split(dataset.samples()[1], val_split, test_split, seed)
    return dict(zip(PARTS, (split.train, split.val, split.test), strict=True))


def diagnose(
    dataset: Dataset,
    features: np.ndarray | None,
    *,
    val_split: float = 0.2,
    test_split: float = 0.15,
    seed: int = 0,
    pixels: np.ndarray | None = None,
) -> Findings:
    """Runs every check on ``dataset``; label checks need ``features`` (``(N, D)``, pooled,
    in ``samples()`` order); ``pixels``, the images decoded already, spare the lint a
    second decode."""
    start = time.perf_counter()
    paths, labels = dataset.samples()
    groups = copy_groups(dataset)
    found_leaks = leaks(split_parts(dataset, val_split, test_split, seed), groups)
    issues: list[LabelIssue] = []
    accuracy: float | None = None
    curve: list[CurvePoint] = []
    if features is not None:
        from threadpoolctl import threadpool_limits

        split = dataset_split(dataset, val_split, test_split, seed)  # as the run will split
        # One BLAS thread: these matrices are small, and OpenBLAS's threads cost more in
        # hand-offs than they give (measured: 12–20× slower with two, on two cores).
        with threadpool_limits(1):
            curve = learning_curve(features, labels, split, seed)
            check = check_labels(features, labels, seed)
        accuracy = check.accuracy
        doubted = check.flagged | (check.suggested != labels)
        issues = [
            LabelIssue(int(i), int(labels[i]), int(check.suggested[i]), float(check.scores[i]))
            for i in check.ranked()
            if doubted[i]
        ]
    seconds = time.perf_counter() - start
    return Findings(
        groups, found_leaks, issues, lint(paths, pixels), accuracy, seconds, curve=curve
    )


__all__ = ["PARTS", "Findings", "LabelIssue", "diagnose", "split_parts"]
