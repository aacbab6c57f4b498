"""Writing a fine-tuned model as an export: ``model.keras``, ``labels.json``, the model card,
``metrics.json`` and each other format that converts and verifies; as a folder or the
download's zip. ``exported.load_export`` reads them back."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model_zoo.artifact.card import CARD_FILE, METRICS_FILE, metrics, model_card
from model_zoo.artifact.labels import (
    DEFAULT_THRESHOLD,
    LABELS_FILE,
    MODEL_FILE,
    Labels,
    model_digest,
)
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.formats import FormatReport, export_formats
from model_zoo.images import resize


@dataclass(frozen=True)
class Export:
    """An export as written: its files (a SavedModel is one folder), the labels, and each
    other format's verification (``reports``; empty for ``model.keras`` alone)."""

    folder: Path
    paths: tuple[Path, ...]
    labels: Labels
    reports: tuple[FormatReport, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """The download: the zip's bytes and its formats' verification."""

    data: bytes
    reports: tuple[FormatReport, ...] = ()


def write_export(
    result: TrainResult,
    folder: Path,
    threshold: float = DEFAULT_THRESHOLD,
    formats: Sequence[str] = ("keras",),
    on_format: Callable[[str, int, int], None] | None = None,
) -> Export:
    """Writes the model, labels, card and metrics into ``folder``, plus each of ``formats``
    beyond ``keras`` that converts and verifies.

    ``threshold``: below this calibrated confidence the model's answer is "not sure".
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / MODEL_FILE, folder / LABELS_FILE, folder / CARD_FILE, folder / METRICS_FILE]
    if result.model is not None:
        result.model.save(paths[0])
    else:  # a result read back from its folder: its file is the model
        assert result.folder is not None
        shutil.copyfile(result.folder / MODEL_FILE, paths[0])
    reports: list[FormatReport] = []
    if any(f != "keras" for f in formats):
        check = result.check_pixels
        if check is None or not len(check):  # an older result: the test thumbnails serve
            check = np.stack([resize(t, result.config.size) for t in result.evaluation.thumbnails])
        reports = export_formats(paths[0], folder, formats, check, on_format=on_format)
    labels = Labels(
        classes=tuple(result.classes),
        input_size=result.config.size,
        backbone=result.config.backbone,
        head=result.config.head,
        temperature=result.evaluation.temperature,
        threshold=threshold,
        model_sha256=model_digest(paths[0]),
        files=(MODEL_FILE, *(r.file for r in reports if r.ok)),
    )
    paths[1].write_text(labels.to_json(), encoding="utf-8")
    paths[2].write_text(model_card(result, threshold, reports), encoding="utf-8")
    data = {**metrics(result, threshold), "formats": [asdict(r) for r in reports]}
    paths[3].write_text(json.dumps(data, indent=2), encoding="utf-8")
    files = tuple(paths + [folder / r.file for r in reports if r.ok])
    return Export(folder, files, labels, tuple(reports))


def export_zip(
    result: TrainResult,
    threshold: float = DEFAULT_THRESHOLD,
    formats: Sequence[str] = ("keras",),
    on_format: Callable[[str, int, int], None] | None = None,
) -> Bundle:
    """The download: a zip of ``write_export``'s files (built in a temporary folder)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="model_zoo_export_") as tmp:
        written = write_export(result, Path(tmp), threshold, formats, on_format)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written.paths:
                files = (
                    sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
                )
                for file in files:
                    zf.write(file, file.relative_to(tmp).as_posix())
    return Bundle(buf.getvalue(), written.reports)
