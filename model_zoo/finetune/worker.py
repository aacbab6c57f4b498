"""The training child process: ``python -m model_zoo.finetune.worker RUN_DIR``.

The app trains in a child process so that a run which needs too much memory ends alone,
under its own limit, instead of taking down the one server every visitor shares. The
parent (``model_zoo.finetune.jobs``) writes ``request.json`` into ``RUN_DIR``; the child sets its
memory limit before TensorFlow is imported, trains, and speaks one JSON object per line on
stdout (``progress``, ``epoch``, then ``done``, ``stopped`` or ``error``). A line ``stop``
on stdin presses Stop. The result (model, evaluation, history) is written under
``RUN_DIR/result`` for the parent to load.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo.children import error_line, is_memory_error, start_child
from model_zoo.datasets import Dataset
from model_zoo.finetune.evaluation import ClassReport, Evaluation, TrainResult
from model_zoo.finetune.events import EpochLog, Progress
from model_zoo.finetune.settings import TrainConfig

REQUEST_FILE = "request.json"
RESULT_DIR = "result"
ROWS_DIR = "rows"  # a leaderboard's results, one folder per combination (``row_folder``)
MODEL_FILE = "model.keras"


def write_request(
    run_dir: Path,
    dataset: Dataset,
    config: TrainConfig,
    weights: str,
    memory_limit: int | None,
    grid: tuple[list[str], list[str]] | None = None,
) -> None:
    """What the child needs: the dataset on disk, the settings and the limits; with ``grid``
    (backbones, heads) a leaderboard on ``config``'s shared settings."""
    request = {
        "dataset": {
            "root": str(dataset.root),
            "classes": list(dataset.classes),
            "files": [[str(p) for p in files] for files in dataset.files],
            "skipped": [list(s) for s in dataset.skipped],
            "digest": dataset.digest,
        },
        "config": asdict(config),
        "weights": weights,
        "memory_limit": memory_limit,
        "grid": list(grid) if grid else None,
    }
    (run_dir / REQUEST_FILE).write_text(json.dumps(request))


def row_folder(run_dir: Path, key: str) -> Path:
    """Where a leaderboard's combination ``"backbone + head"`` keeps its result."""
    return run_dir / ROWS_DIR / key.replace(" + ", "__")


def _dataset(data: dict[str, Any]) -> Dataset:
    return Dataset(
        Path(data["root"]),
        tuple(data["classes"]),
        tuple(tuple(Path(p) for p in files) for files in data["files"]),
        tuple((str(name), str(why)) for name, why in data["skipped"]),
        data["digest"],
    )


def save_result(result: TrainResult, folder: Path) -> None:
    """Writes a run's result as files the parent reads back (``load_result``)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save(folder / MODEL_FILE)
    ev = result.evaluation
    np.savez(
        folder / "evaluation.npz",
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
        "stopped": result.stopped,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
        "feature_seconds": result.feature_seconds,
        "feature_images_per_second": result.feature_images_per_second,
        "feature_engine": result.feature_engine,
        "created": result.created,
    }
    (folder / "result.json").write_text(json.dumps(meta))


def load_result(folder: Path) -> TrainResult:
    """A result written by ``save_result``; the model loads in safe mode."""
    from model_zoo import runtime
    from model_zoo.weights import weights_source

    keras = runtime.keras()
    meta = json.loads((folder / "result.json").read_text())
    with np.load(folder / "evaluation.npz") as arrays:
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
        )
        check = arrays["check"] if "check" in arrays.files else None
    return TrainResult(
        model=keras.saving.load_model(folder / MODEL_FILE, safe_mode=True),
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
    )


def _emit(out: Any, kind: str, **payload: Any) -> None:
    out.write(json.dumps({"type": kind, **payload}) + "\n")
    out.flush()


def main(argv: list[str]) -> int:
    """Runs one training request; returns the exit status."""
    run_dir = Path(argv[0])
    request = json.loads((run_dir / REQUEST_FILE).read_text())
    stop = threading.Event()
    # The limit before TensorFlow reserves anything; "stop" on stdin presses Stop, and the
    # parent's end (stdin closed) ends this process: nobody wants the result.
    start_child(request.get("memory_limit"), lambda line: stop.set() if line == "stop" else None)
    out = sys.stdout

    from model_zoo.finetune.settings import TrainingStopped
    from model_zoo.weights import MissingWeightsError, weights_source

    def on_progress(progress: Progress) -> None:
        _emit(out, "progress", **asdict(progress))

    def on_epoch(log: EpochLog) -> None:
        _emit(out, "epoch", **log.to_dict())

    def on_row(row: Any, result: TrainResult) -> None:
        save_result(result, row_folder(run_dir, row.key))
        _emit(out, "row", **row.to_dict())

    dataset = _dataset(request["dataset"])
    config = TrainConfig(**request["config"])
    features = Path(request["dataset"]["root"]).parent / "features"
    stopped = False
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' own chatter stays off the pipe
            from model_zoo.finetune.training import train, train_grid  # may not fit the limit

            if request.get("grid"):
                backbones, heads = request["grid"]
                rows = train_grid(
                    dataset,
                    backbones,
                    heads,
                    config,
                    weights_source(request["weights"]),
                    stop=stop,
                    on_progress=on_progress,
                    on_epoch=on_epoch,
                    on_row=on_row,
                    feature_dir=features,
                )
                stopped = stop.is_set() or any(r.stopped for r in rows)
            else:
                result = train(
                    dataset,
                    config,
                    weights_source(request["weights"]),
                    stop=stop,
                    on_progress=on_progress,
                    on_epoch=on_epoch,
                    feature_dir=features,
                )
                save_result(result, run_dir / RESULT_DIR)
                stopped = result.stopped
    except TrainingStopped:
        _emit(out, "stopped", message="Stopped before the first epoch finished; nothing to keep.")
        return 0
    except (MissingWeightsError, ValueError) as err:
        _emit(out, "error", message=str(err))
        return 0
    except Exception as err:  # MemoryError too
        memory = is_memory_error(err, request.get("memory_limit"))
        _emit(out, "error", message=error_line(err), memory=memory)
        return 0
    _emit(out, "done", stopped=stopped)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(sys.argv[1:]))
