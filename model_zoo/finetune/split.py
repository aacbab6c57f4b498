"""The three-way split of a dataset: train, validation and test, stratified per class and
seeded, with copies of one photo kept in one part. No Keras: the page shows the sizes
before a run, the runs train on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_zoo.datasets import Dataset


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


def split_with_copies(
    labels: np.ndarray,
    val_split: float,
    test_split: float,
    seed: int,
    groups: list[list[int]] | None = None,
) -> Split:
    """``train_val_test_split``, then each group of copies (``doctor.duplicates``) moved
    to one part, so no photo is judged on a copy of itself it trained on."""
    split = train_val_test_split(labels, val_split, test_split, seed)
    if not groups:
        return split
    from model_zoo.doctor.duplicates import keep_together

    parts = keep_together(
        {"train": split.train, "val": split.val, "test": split.test}, groups, labels
    )
    return Split(parts["train"], parts["val"], parts["test"])


def dataset_split(
    dataset: Dataset, val_split: float, test_split: float, seed: int, keep_copies: bool = True
) -> Split:
    """The split a run of ``dataset`` trains on: ``train_val_test_split``, with its exact
    and near copies kept in one part unless ``keep_copies`` is False."""
    from model_zoo.doctor.duplicates import copy_groups

    groups = copy_groups(dataset) if keep_copies else None
    return split_with_copies(dataset.samples()[1], val_split, test_split, seed, groups)
