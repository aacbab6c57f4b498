"""A finished run on disk, between the training process and the server: the model (the
same ``model.keras`` as an export), its evaluation as arrays and the rest as JSON. The
training process writes it; the parent reads it back and leaves the model on disk."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from model_zoo.artifact.labels import MODEL_FILE
from model_zoo.finetune.evaluation import ClassReport, Evaluation, TrainResult
from model_zoo.finetune.events import EpochLog
from model_zoo.finetune.settings import TrainConfig
from model_zoo.wording import RUN_SEPARATOR

RESULT_DIR = "result"  # in a run's folder: a single run's result
ROWS_DIR = "rows"  # a leaderboard's results, one folder per combination (``row_folder``)
RESULT_FILE = "result.json"
EVALUATION_FILE = "evaluation.npz"


def row_folder(run_dir: Path, key: str) -> Path:
    """Where a leaderboard's combination (``wording.run_key``) keeps its result."""
    backbone, _, head = key.partition(RUN_SEPARATOR)
    return run_dir / ROWS_DIR / f"{backbone}__{head}"


def save_result(result: TrainResult, folder: Path) -> None:
    """Writes a run's result as files the parent reads back (``load_result``)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save(folder / MODEL_FILE)
    ev = result.evaluation
    np.savez(
        folder / EVALUATION_FILE,
        confusion=ev.confusion,
        probabilities=ev.probabilities,
        labels=ev.labels,
        thumbnails=np.stack(ev.thumbnails) if ev.thumbnails else np.zeros((0, 1, 1, 3), np.uint8),
        check=result.check_pixels
        if result.check_pixels is not None
        else np.zeros((0, 1, 1, 3), np.uint8),
    )
    meta = {
        "classes": list(result.classes),
        "config": asdict(result.config),
        "weights": str(result.weights),
        "history": [h.to_dict() for h in result.history],
        "accuracy": ev.accuracy,
        "loss": ev.loss,
        "temperature": ev.temperature,
        "split_sizes": list(ev.split_sizes),
        "val_loss": ev.val_loss,
        "per_class": [asdict(c) for c in ev.per_class],
        "unweighted_recall": list(ev.unweighted_recall),
        "stopped": result.stopped,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
        "feature_seconds": result.feature_seconds,
        "feature_images_per_second": result.feature_images_per_second,
        "feature_engine": result.feature_engine,
        "created": result.created,
    }
    (folder / RESULT_FILE).write_text(json.dumps(meta))


def load_result(folder: Path) -> TrainResult:
    """A result written by ``save_result``, without its model: ``model.keras`` stays in
    ``folder`` (``TrainResult.folder``), where ``Exported`` converts it for OpenVINO or
    loads it in Keras' safe mode. No TensorFlow here."""
    from model_zoo.weights import weights_source

    meta = json.loads((folder / RESULT_FILE).read_text())
    with np.load(folder / EVALUATION_FILE) as arrays:
        evaluation = Evaluation(
            accuracy=meta["accuracy"],
            loss=meta["loss"],
            confusion=arrays["confusion"],
            per_class=tuple(ClassReport(**c) for c in meta["per_class"]),
            probabilities=arrays["probabilities"],
            labels=arrays["labels"],
            thumbnails=tuple(arrays["thumbnails"]),
            temperature=meta["temperature"],
            split_sizes=tuple(meta["split_sizes"]),
            val_loss=meta["val_loss"],
            unweighted_recall=tuple(meta.get("unweighted_recall", ())),
        )
        check = arrays["check"] if "check" in arrays.files else None
    return TrainResult(
        model=None,
        classes=tuple(meta["classes"]),
        config=TrainConfig(**meta["config"]),
        weights=weights_source(meta["weights"]),
        history=[EpochLog(**h) for h in meta["history"]],
        evaluation=evaluation,
        stopped=meta["stopped"],
        best_epoch=meta["best_epoch"],
        seconds=meta["seconds"],
        feature_seconds=meta["feature_seconds"],
        feature_images_per_second=meta["feature_images_per_second"],
        feature_engine=meta.get("feature_engine", ""),
        created=meta["created"],
        check_pixels=check if check is not None and len(check) else None,
        folder=folder,
    )
