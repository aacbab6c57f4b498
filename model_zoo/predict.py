"""Predictions for many photos at once: from files, folders or a zip (read under the dataset
rules), through a fine-tuned export or the ImageNet models, as rows and CSV.

A fine-tuned model is only loaded from an export this app wrote: its ``labels.json`` must
name Model Zoo and carry the SHA-256 of ``model.keras``, and the model loads in Keras' safe
mode. Anything else is refused with one line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo.children import error_line
from model_zoo.datasets import STORED_SIDE, DatasetError, zip_photos
from model_zoo.images import IMAGE_EXTENSIONS, ImageError, load_image, resize

EXPORTED_BY = "model-zoo"
MODEL_FILE, LABELS_FILE = "model.keras", "labels.json"
MAX_MODEL_BYTES = 2 * 1024**3
BATCH = 32

Photo = tuple[str, np.ndarray | None, str]  # (name, image or None, why it is unusable)
ProgressFn = Callable[[int, int], None]


class ExportError(ValueError):
    """Not a model this app exported, or a damaged or altered one."""


def model_digest(path: Path) -> str:
    """SHA-256 of a model file, as ``labels.json`` records it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Exported:
    """A fine-tuned export, checked: the model and its labels.

    ``digest``: the model file's SHA-256 when it was loaded from disk; predictions then run
    on OpenVINO, converted once per model and cached under that name.
    """

    model: Any
    classes: tuple[str, ...]
    size: int
    temperature: float
    threshold: float
    digest: str = ""
    engine: str = "TensorFlow"

    def _trace(self) -> Any:
        from model_zoo import runtime

        tf = runtime.tensorflow()
        function = tf.function(lambda x: self.model(x, training=False))
        return function.get_concrete_function(
            tf.TensorSpec([None, self.size, self.size, 3], tf.float32)
        )

    def batch_runner(self, batch: int) -> Callable[[np.ndarray], np.ndarray]:
        """Probabilities for a batch of pixels: OpenVINO when allowed and the model came
        from disk (converted once, cached by its checksum), else Keras' ``predict_on_batch``."""
        from model_zoo import engine

        settings = engine.engine_settings()
        if self.digest and settings.wants_openvino and engine.openvino_core() is not None:
            precision = settings.resolved_precision()
            compiled = engine.cached_openvino(
                engine.cached_ir_folder(f"export-{self.digest[:24]}", precision),
                self._trace,
                precision,
                batch,
            )
            if compiled is not None:  # else Keras runs the batches
                self.engine = compiled.label
                return compiled
        self.engine = "TensorFlow"
        return lambda x: np.asarray(self.model.predict_on_batch(x))


def load_export(source: Path, workdir: Path) -> Exported:
    """Loads an export folder or zip written by this app (``export.write_export``).

    Args:
        source: The export's folder, or its zip.
        workdir: A temporary folder of the caller's: a zip's two files are copied there.

    Raises:
        ExportError: not an export of this app, altered, or damaged (one line).
    """
    if source.is_dir():
        folder = source
    elif zipfile.is_zipfile(source):
        folder = workdir
        try:
            with zipfile.ZipFile(source) as zf:
                names = set(zf.namelist())
                for name in (MODEL_FILE, LABELS_FILE):
                    if name not in names:
                        raise ExportError(f"{source.name}: no {name} in the zip")
                    if zf.getinfo(name).file_size > MAX_MODEL_BYTES:
                        raise ExportError(f"{source.name}: {name} is too large")
                    (workdir / name).write_bytes(zf.read(name))
        except (zipfile.BadZipFile, OSError, RuntimeError) as err:
            raise ExportError(f"{source.name}: the zip is damaged ({err})") from None
    else:
        raise ExportError(f"{source}: not an export folder or zip")
    try:
        labels = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ExportError(f"{source}: no readable {LABELS_FILE}: not a Model Zoo export") from None
    if not isinstance(labels, dict) or labels.get("exported_by") != EXPORTED_BY:
        raise ExportError(f"{source}: {LABELS_FILE} does not name Model Zoo: refused")
    model_file = folder / MODEL_FILE
    if not model_file.is_file() or model_digest(model_file) != labels.get("model_sha256"):
        raise ExportError(
            f"{source}: {MODEL_FILE} does not match the checksum in {LABELS_FILE} "
            "(altered or damaged): refused"
        )
    from model_zoo import runtime

    try:
        model = runtime.keras().saving.load_model(model_file, safe_mode=True)
    except Exception as err:  # a file that matches its checksum but still will not load
        text = error_line(err, with_type=False, limit=200)
        raise ExportError(f"{source}: the model does not load ({text})") from None
    return Exported(
        model,
        tuple(labels["classes"]),
        int(labels["input_size"]),
        float(labels.get("temperature", 1.0)),
        float(labels.get("threshold", 0.0)),
        digest=str(labels["model_sha256"]),
    )


def gather_photos(inputs: Sequence[Path]) -> Iterator[Photo]:
    """Photos from image files, folders (their image files, recursively, sorted) and zips
    (``datasets.zip_photos``); an unreadable one comes as ``(name, None, why)``.

    Raises:
        DatasetError: a zip is refused.
    """
    for path in inputs:
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            for file in files:
                yield _read(file, str(file.relative_to(path.parent)))
        elif path.suffix.lower() == ".zip":
            yield from ((f"{path.name}/{n}", im, why) for n, im, why in zip_photos(path))
        else:
            yield _read(path, str(path))


def _read(path: Path, name: str) -> Photo:
    try:
        return name, load_image(path.read_bytes(), max_side=STORED_SIDE), ""
    except ImageError as err:
        return name, None, str(err)
    except OSError as err:
        return name, None, f"cannot read the file ({err.strerror or err})"


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
    from model_zoo.finetune.evaluation import calibrate

    rows: list[PredictionRow] = []
    run = exported.batch_runner(batch)
    for chunk in _batches(photos, batch):
        good = [(n, im) for n, im, _ in chunk if im is not None]
        probs = np.zeros((0, len(exported.classes)))
        if good:
            pixels = np.stack([resize(im, exported.size) for _, im in good]).astype(np.float32)
            probs = calibrate(np.asarray(run(pixels)), exported.temperature)
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
    """``predictions.csv``: file, top1 ("not sure" below the threshold), score, top5, error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "top1", "score", "top5", "not_sure", "error"])
    for row in rows:
        if row.error:
            writer.writerow([row.file, "", "", "", "", row.error])
            continue
        label, score = row.top[0]
        top5 = "; ".join(f"{c} {s:.4f}" for c, s in row.top)
        writer.writerow(
            [
                row.file,
                "not sure" if row.not_sure else label,
                f"{score:.4f}",
                top5,
                row.not_sure,
                "",
            ]
        )
    return out.getvalue()


def classify_photos(
    classifiers: Sequence[Any],
    photos: Iterable[Photo],
    total: int = 0,
    on_progress: ProgressFn | None = None,
    batch: int = BATCH,
) -> list[dict[str, str]]:
    """Every photo through the ImageNet models: one column per model (top-1 and score) and
    the ensemble's top-1 (the mean of their probabilities)."""
    from model_zoo.labels import top_k

    rows: list[dict[str, str]] = []
    for chunk in _batches(photos, batch):
        good = [(n, im) for n, im, _ in chunk if im is not None]
        per_model = {c.name: c.classify([im for _, im in good], top=1) for c in classifiers}
        index = {name: i for i, (name, _) in enumerate(good)}
        for name, _, why in chunk:
            if name not in index:
                rows.append({"file": name, "error": why})
                continue
            i = index[name]
            row = {"file": name}
            probs = []
            for model, predictions in per_model.items():
                best = predictions[i].top[0]
                row[model] = f"{best.pretty} {best.score:.4f}"
                probs.append(predictions[i].probabilities)
            ensemble = top_k(np.mean(probs, axis=0), 1)[0]
            row["ensemble"] = f"{ensemble.pretty} {ensemble.score:.4f}"
            rows.append(row)
        if on_progress is not None:
            on_progress(len(rows), max(total, len(rows)))
    return rows


def dict_rows_csv(rows: Sequence[dict[str, str]]) -> str:
    columns = [*list(dict.fromkeys(k for row in rows for k in row if k != "error")), "error"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


__all__ = [
    "DatasetError",
    "ExportError",
    "classify_photos",
    "gather_photos",
    "load_export",
    "predict_photos",
    "rows_csv",
]
