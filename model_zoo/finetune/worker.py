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
from enum import StrEnum
from pathlib import Path
from typing import Any

from model_zoo.artifact.run_folder import RESULT_DIR, row_folder, save_result
from model_zoo.children import error_line, is_memory_error, start_child
from model_zoo.datasets import Dataset
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.events import EpochLog, Progress
from model_zoo.finetune.settings import Grid, TrainConfig

REQUEST_FILE = "request.json"


def write_request(
    run_dir: Path,
    dataset: Dataset,
    config: TrainConfig,
    weights: str,
    memory_limit: int | None,
    grid: Grid | None = None,
) -> None:
    """What the child needs: the dataset on disk, the settings and the limits; with ``grid``
    (backbones, heads) a leaderboard on ``config``'s shared settings."""
    request = {
        "dataset": dataset.to_dict(),
        "config": asdict(config),
        "weights": weights,
        "memory_limit": memory_limit,
        "grid": list(grid) if grid else None,
    }
    (run_dir / REQUEST_FILE).write_text(json.dumps(request))


class Message(StrEnum):
    """The kind (``"type"``) of each JSON line the training process writes on stdout."""

    PROGRESS = "progress"
    EPOCH = "epoch"
    ROW = "row"  # a leaderboard's combination, finished and saved (``row_folder``)
    DONE = "done"
    STOPPED = "stopped"  # by Stop before anything could be kept
    ERROR = "error"


FINAL = (Message.DONE, Message.STOPPED, Message.ERROR)  # the last line of a run


def _emit(out: Any, kind: Message, **payload: Any) -> None:
    out.write(json.dumps({"type": kind, **payload}) + "\n")
    out.flush()


def main(argv: list[str]) -> int:
    """Runs one training request; returns the exit status."""
    run_dir = Path(argv[0])
    request = json.loads((run_dir / REQUEST_FILE).read_text())
    stop = threading.Event()
    # The limit before TensorFlow reserves anything; "stop" on stdin presses Stop, and the
    # parent's end (stdin closed) ends this process: nobody wants the result. Training is
    # background work: visitors' Compare and Explain go first.
    on_line = lambda line: stop.set() if line == "stop" else None  # noqa: E731
    start_child(request.get("memory_limit"), on_line, background=True)
    out = sys.stdout

    from model_zoo.finetune.settings import TrainingStopped
    from model_zoo.weights import MissingWeightsError, weights_source

    def on_progress(progress: Progress) -> None:
        _emit(out, Message.PROGRESS, **asdict(progress))

    def on_epoch(log: EpochLog) -> None:
        _emit(out, Message.EPOCH, **log.to_dict())

    def on_row(row: Any, result: TrainResult) -> None:
        save_result(result, row_folder(run_dir, row.key))
        _emit(out, Message.ROW, **row.to_dict())

    dataset = Dataset.from_dict(request["dataset"])
    config = TrainConfig(**request["config"])
    features = Path(request["dataset"]["root"]).parent / "features"
    stopped = False
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' own chatter stays off the pipe
            from model_zoo.finetune.grid import train_grid  # may not fit the limit
            from model_zoo.finetune.training import train

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
        _emit(
            out,
            Message.STOPPED,
            message="Stopped before the first epoch finished; nothing to keep.",
        )
        return 0
    except (MissingWeightsError, ValueError) as err:
        _emit(out, Message.ERROR, message=str(err))
        return 0
    except Exception as err:  # MemoryError too
        memory = is_memory_error(err, request.get("memory_limit"))
        _emit(out, Message.ERROR, message=error_line(err), memory=memory)
        return 0
    _emit(out, Message.DONE, stopped=stopped)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(sys.argv[1:]))
