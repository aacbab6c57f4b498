"""The three-way split of a dataset: train, validation and test, stratified per class and
seeded. No Keras: the page shows the sizes before a run, the runs train on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def stratified_split(
    labels: np.ndarray, val_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices, each class split in the same proportion (seeded).

    Every class keeps at least one image on each side.
    """
    val, train = _carve(labels, val_split, 1, np.random.default_rng(seed))
    return train, val


def _carve(
    labels: np.ndarray, fraction: float, keep: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(carved, rest) sorted indices: from each class, a random ``fraction`` of its images,
    at least one, leaving at least ``keep`` in the rest."""
    carved: list[int] = []
    rest: list[int] = []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n = min(max(1, round(len(idx) * fraction)), len(idx) - keep)
        carved.extend(idx[:n])
        rest.extend(idx[n:])
    return np.sort(np.array(carved)), np.sort(np.array(rest))


@dataclass(frozen=True)
class Split:
    """Train, validation and test indices: disjoint, stratified, seeded.

    Validation picks the best epoch and stops training early; the test split is touched once,
    after training, and is what results report.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def train_val_test_split(
    labels: np.ndarray, val_split: float, test_split: float, seed: int
) -> Split:
    """Carves the test split first, then validation from the rest, each class in proportion.

    Every class keeps at least one image in each part (so it needs three).

    Raises:
        ValueError: a class has fewer than three images.
    """
    counts = np.bincount(labels)
    if counts[counts > 0].min() < 3:
        raise ValueError("Every class needs at least 3 images for train, validation and test.")
    test, remaining = _carve(labels, test_split, 2, np.random.default_rng(seed))
    # validation's share of what is left, so that it is val_split of the whole
    train_part, val_part = stratified_split(
        labels[remaining], val_split / max(1e-9, 1 - test_split), seed + 1
    )
    return Split(remaining[train_part], remaining[val_part], test)
