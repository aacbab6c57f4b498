"""The doctor's fixes, written as a zip of class folders that reads back through
``datasets.extract_dataset`` like any upload: dropped images left out, relabelled ones in
their new class's folder, every other image as stored."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePosixPath

from model_zoo.archive import write_zip
from model_zoo.datasets import Dataset
from model_zoo.doctor.report import Findings


def copies_to_drop(findings: Findings) -> set[int]:
    """Every image of each duplicate group but its first: the group merged into one."""
    return {i for group in findings.duplicates for i in group[1:]}


def suspected(findings: Findings) -> set[int]:
    """The images with likely label errors."""
    return {issue.index for issue in findings.label_issues}


def dataset_zip(
    dataset: Dataset, drop: Iterable[int] = (), relabel: Mapping[int, int] | None = None
) -> bytes:
    """The dataset as a zip of class folders named as the classes, photos named as their
    zip entries were (made unique within a folder), less ``drop``, with ``relabel``
    (index → class index) applied."""
    paths, labels = dataset.samples()
    names = dataset.entry_names()
    dropped, moved = set(drop), dict(relabel or {})

    def entries() -> Iterator[tuple[str, bytes]]:
        used: set[str] = set()
        for i, path in enumerate(paths):
            if i in dropped:
                continue
            cls = dataset.classes[moved.get(i, int(labels[i]))]
            stem = PurePosixPath(names[i]).stem or f"{i:05d}"
            entry, n = f"{cls}/{stem}.jpg", 1
            while entry in used:
                n += 1
                entry = f"{cls}/{stem}-{n}.jpg"
            used.add(entry)
            yield entry, path.read_bytes()

    return write_zip(entries())


__all__ = ["copies_to_drop", "dataset_zip", "suspected"]
