"""Predictions for many photos at once: from files, folders or a zip (read under the dataset
rules), through a fine-tuned export or the ImageNet models, as rows and CSV.

A fine-tuned model is only loaded from an export this app wrote: its ``labels.json`` must
name Model Zoo and carry the SHA-256 of ``model.keras``, and the model loads in Keras' safe
mode. Anything else is refused with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_zoo.artifact.exported import Exported
from model_zoo.artifact.labels import ExportError
from model_zoo.datasets import STORED_SIDE, DatasetError, zip_photos
from model_zoo.images import IMAGE_EXTENSIONS, MAX_BYTES, ImageError, load_image
from model_zoo.labels import ClassScore
from model_zoo.untrusted import UntrustedFileError, read_regular, to_csv

if TYPE_CHECKING:
    pass

BATCH = 32

Photo = tuple[str, np.ndarray | None, str]  # (name, image or None, why it is unusable)
ProgressFn = Callable[[int, int], None]


def gather_photos(inputs: Sequence[Path]) -> Iterator[Photo]:
    """Photos from image files, folders (their image files, recursively, sorted) and zips
    (``datasets.zip_photos``); an unreadable one comes as ``(name, None, why)``. Only regular
    files are read, and in a folder only those that stay inside it.

    Raises:
        DatasetError: a zip is refused.
    """
    for path in inputs:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            for file in files:
                if not file.is_dir():
                    yield _read(file, str(file.relative_to(path.parent)), within=path)
        elif path.suffix.lower() == ".zip":
            yield from ((f"{path.name}/{n}", im, why) for n, im, why in zip_photos(path))
        else:
            yield _read(path, str(path))


def _read(path: Path, name: str, within: Path | None = None) -> Photo:
    try:
        data = read_regular(path, MAX_BYTES, within=within)
        return name, load_image(data, max_side=STORED_SIDE), ""
    except (ImageError, UntrustedFileError) as err:
        return name, None, _without_path(str(err), path)


def _without_path(message: str, path: Path) -> str:
    """The reason alone: the row already names the file."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _batches(photos: Iterable[Photo], size: int) -> Iterator[list[Photo]]:
    batch: list[Photo] = []
    for photo in photos:
        batch.append(photo)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class PredictionRow:
    """One photo's answer: ``top`` is (class, calibrated probability), best first."""

    file: str
    top: tuple[tuple[str, float], ...] = ()
    not_sure: bool = False
    error: str = ""


def predict_photos(
    exported: Exported,
    photos: Iterable[Photo],
    total: int = 0,
    on_progress: ProgressFn | None = None,
    batch: int = BATCH,
) -> list[PredictionRow]:
    """Every photo through a fine-tuned export, ``batch`` at a time (on OpenVINO for an
    export loaded from disk, see ``Exported.batch_runner``), with its temperature and
    "not sure" threshold."""
    rows: list[PredictionRow] = []
    for chunk in _batches(photos, batch):
        good = [(n, im) for n, im, _ in chunk if im is not None]
        probs = np.zeros((0, len(exported.classes)))
        if good:
            probs = exported.predict([im for _, im in good])
        answers = dict(zip((n for n, _ in good), probs, strict=True))
        for name, _, why in chunk:
            if name not in answers:
                rows.append(PredictionRow(name, error=why))
                continue
            p = answers[name]
            order = np.argsort(-p, kind="stable")[:5]
            top = tuple((exported.classes[i], float(p[i])) for i in order)
            rows.append(PredictionRow(name, top, top[0][1] < exported.threshold))
        if on_progress is not None:
            on_progress(len(rows), max(total, len(rows)))
    return rows


def rows_csv(rows: Sequence[PredictionRow]) -> str:
    """``predictions.csv``: file, top1 ("not sure" below the threshold), score, the best
    classes with their scores (``topK``, K at most 5 and the class count), error."""
    lines: list[list[object]] = []
    for row in rows:
        if row.error:
            lines.append([row.file, "", "", "", "", row.error])
            continue
        label, score = row.top[0]
        top = "; ".join(f"{c} {s:.4f}" for c, s in row.top)
        lines.append(
            [
                row.file,
                "not sure" if row.not_sure else label,
                round(score, 4),
                top,
                row.not_sure,
                "",
            ]
        )
    shown = max((len(row.top) for row in rows), default=0)
    return to_csv(["file", "top1", "score", f"top{shown}", "not_sure", "error"], lines)


@dataclass(frozen=True)
class PhotoAnswers:
    """One photo through the ImageNet models: each model's top-1 (by registry name) and
    the ensemble's (the mean of their probabilities), or why it has none."""

    file: str
    answers: tuple[tuple[str, ClassScore], ...] = ()
    ensemble: ClassScore | None = None
    error: str = ""


def classify_photos(
    classifiers: Sequence[Any],
    photos: Iterable[Photo],
    total: int = 0,
    on_progress: ProgressFn | None = None,
    batch: int = BATCH,
) -> list[PhotoAnswers]:
    """Every photo through the ImageNet models, in batches."""
    from model_zoo.labels import top_k

    rows: list[PhotoAnswers] = []
    for chunk in _batches(photos, batch):
        good = [(n, im) for n, im, _ in chunk if im is not None]
        per_model = {c.name: c.classify([im for _, im in good], top=1) for c in classifiers}
        index = {name: i for i, (name, _) in enumerate(good)}
        for name, _, why in chunk:
            if name not in index:
                rows.append(PhotoAnswers(name, error=why))
                continue
            mine = [(model, found[index[name]]) for model, found in per_model.items()]
            ensemble = top_k(np.mean([p.probabilities for _, p in mine], axis=0), 1)[0]
            rows.append(PhotoAnswers(name, tuple((m, p.top[0]) for m, p in mine), ensemble))
        if on_progress is not None:
            on_progress(len(rows), max(total, len(rows)))
    return rows


def answers_csv(rows: Sequence[PhotoAnswers]) -> str:
    """The answers as CSV: per model (registry name) and for the ensemble, a class column
    and a score column (``resnet50``, ``resnet50_score``), then the error."""
    models = list(dict.fromkeys(m for row in rows for m, _ in row.answers))
    header = ["file"]
    for name in [*models, "ensemble"]:
        header += [name, f"{name}_score"]
    lines = []
    for row in rows:
        found = dict(row.answers)
        cells: list[object] = [row.file]
        for best in [*(found.get(m) for m in models), row.ensemble]:
            cells += [best.label, round(best.score, 6)] if best is not None else ["", ""]
        lines.append([*cells, row.error])
    return to_csv([*header, "error"], lines)


__all__ = [
    "DatasetError",
    "ExportError",
    "Exported",
    "PhotoAnswers",
    "answers_csv",
    "classify_photos",
    "gather_photos",
    "predict_photos",
    "rows_csv",
]
