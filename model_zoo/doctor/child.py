"""The doctor in a child process (``python -m model_zoo.doctor.child FOLDER``), as training
runs: TensorFlow, the feature pass and its memory stay out of the server, and the features
it caches beside the dataset are the ones a run with the same settings then reuses.

The parent writes ``request.json`` (``finetune.worker.write_request``'s layout) into the
folder; the child prints JSON lines: ``progress``, then one ``done`` (the findings) or
``error`` (one line for people).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from model_zoo.children import (
    Child,
    error_line,
    exit_text,
    is_memory_error,
    ran_out_of_memory,
    start_child,
)
from model_zoo.datasets import Dataset
from model_zoo.doctor.report import Findings
from model_zoo.finetune.events import Progress, ProgressFn, noop
from model_zoo.finetune.settings import TrainConfig

DOCTOR_SECONDS = 900  # then the child is ended
REQUEST_FILE = "request.json"
OUT_OF_MEMORY = "the check ran out of memory (fewer or smaller photos would help)"


class DoctorError(RuntimeError):
    """The doctor could not finish; ``str()`` is one line for people."""


def examine(
    dataset: Dataset,
    config: TrainConfig,
    weights: str,
    folder: Path,
    memory_limit: int | None = None,
    on_progress: ProgressFn = noop,
) -> Findings:
    """Runs the doctor on ``dataset`` in a child process, ``folder`` its own (empty) one.

    Raises:
        DoctorError: the child failed, ran out of memory or time, or was killed.
    """
    request = {
        "dataset": dataset.to_dict(),
        "config": asdict(config),
        "weights": weights,
        "memory_limit": memory_limit,
    }
    (folder / REQUEST_FILE).write_text(json.dumps(request))
    log = folder / "doctor.log"
    with Child("model_zoo.doctor.child", [str(folder)], log=log) as child:
        for message in child.messages(deadline=time.monotonic() + DOCTOR_SECONDS):
            kind = message.pop("type", None)
            if kind == "progress":
                with contextlib.suppress(TypeError):
                    on_progress(Progress(**message))
            elif kind == "done":
                return Findings.from_dict(message["findings"])
            elif kind == "error":
                raise DoctorError(str(message.get("error", "the check failed")))
    code = child.wait()
    if child.timed_out:
        raise DoctorError(f"the check took over {DOCTOR_SECONDS // 60} minutes and was ended")
    if ran_out_of_memory(code, memory_limit, child.tail()):
        raise DoctorError(OUT_OF_MEMORY)
    raise DoctorError(f"the check {exit_text(code)}")


def _emit(kind: str, **payload: object) -> None:
    sys.__stdout__.write(json.dumps({"type": kind, **payload}) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    request = json.loads((folder / REQUEST_FILE).read_text())
    start_child(request.get("memory_limit"), background=True)
    from model_zoo.doctor.features import check_dataset
    from model_zoo.weights import MissingWeightsError, weights_source

    dataset = Dataset.from_dict(request["dataset"])
    config = TrainConfig(**request["config"])
    progress = lambda p: _emit("progress", **asdict(p))  # noqa: E731
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' chatter stays off the pipe
            findings = check_dataset(
                dataset, config, weights_source(request["weights"]), on_progress=progress
            )
    except MissingWeightsError as err:
        _emit("error", error=err.problem)
        return 0
    except Exception as err:  # one line for the page, whatever broke
        if is_memory_error(err, request.get("memory_limit")):
            _emit("error", error=OUT_OF_MEMORY)
        else:
            _emit("error", error=f"the check failed: {error_line(err)}")
        return 1
    _emit("done", findings=findings.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["DoctorError", "examine"]
