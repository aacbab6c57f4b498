"""Training jobs for the app: each in a child process, a server-wide cap, Stop, progress.

A run trains in its own process (``model_zoo.finetune.worker``, started fresh rather than forked
from a process that has TensorFlow loaded) under a memory limit: a run that needs too much
memory ends alone and the page says so, while the server and everyone's Compare go on. The
pages poll ``TrainingJob.snapshot()``; nothing here knows about Streamlit.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_zoo.artifact.run_folder import RESULT_DIR, load_result, row_folder
from model_zoo.children import Child, exit_text, memory_limit_from_env, ran_out_of_memory
from model_zoo.datasets import Dataset
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.events import EpochLog, JobState, Progress
from model_zoo.finetune.leaderboard import Row, ranked
from model_zoo.finetune.resources import ResourceMonitor, Sample
from model_zoo.finetune.settings import Grid, TrainConfig
from model_zoo.finetune.worker import FINAL, Message, write_request
from model_zoo.weights import WeightsSource

log = logging.getLogger(__name__)

MAX_TRAININGS_VAR = "MODEL_ZOO_MAX_TRAININGS"
TIME_LIMIT_VAR = "MODEL_ZOO_MAX_TRAIN_SECONDS"
MEMORY_VAR = "MODEL_ZOO_TRAIN_MEMORY_GB"
DEFAULT_MEMORY_GB = 10.0
# After Stop (or the time limit) a run gets this long to save its best weights and exit.
STOP_GRACE_SECONDS = 60.0
OPEN_ROWS = 2  # a leaderboard's results held in memory at once (each holds a whole model)
WORKER_MODULE = "model_zoo.finetune.worker"  # the child's module (tests put a faulty one here)


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def default_memory_limit() -> int | None:
    """The training process's address-space limit in bytes (``$MODEL_ZOO_TRAIN_MEMORY_GB``,
    default 10; 0 means none)."""
    return memory_limit_from_env(MEMORY_VAR, DEFAULT_MEMORY_GB)


# Server-wide: every session of the process shares these slots.
_SLOTS = threading.BoundedSemaphore(_int_env(MAX_TRAININGS_VAR, 1))
_RUNNING: weakref.WeakSet[TrainingJob] = weakref.WeakSet()  # for "busy for how long"


class ServerBusy(RuntimeError):
    """All training slots of the server are taken."""


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state for one page render."""

    state: JobState
    progress: Progress | None
    history: tuple[EpochLog, ...]
    result: TrainResult | None
    error: str | None
    stop_requested: bool
    rows: tuple[Row, ...] = ()  # a leaderboard's finished combinations, best first
    resources: tuple[Sample, ...] = ()  # the training process's CPU, memory and GPU

    @property
    def is_grid(self) -> bool:
        return bool(self.rows) or any(h.run for h in self.history)


@dataclass(eq=False)  # compared and hashed by identity: one job is one run
class TrainingJob:
    """One training run in its own process, watched by a thread of this one."""

    dataset: Dataset
    config: TrainConfig
    weights: WeightsSource
    time_limit: float | None = None
    memory_limit: int | None = None
    grid: Grid | None = None  # a leaderboard's backbones and heads
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _state: JobState = "running"
    _progress: Progress | None = None
    _history: list[EpochLog] = field(default_factory=list)
    _result: TrainResult | None = None
    _error: str | None = None
    _cancelled: str | None = None
    _child: Child | None = None
    _timers: list[threading.Timer] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _thread: threading.Thread | None = None
    _run_dir: Path | None = None
    _rows: list[Row] = field(default_factory=list)
    _row_results: OrderedDict[str, TrainResult] = field(default_factory=OrderedDict)
    _monitor: ResourceMonitor | None = None

    @classmethod
    def start(
        cls,
        dataset: Dataset,
        config: TrainConfig,
        weights: WeightsSource,
        time_limit: float | None = None,
        memory_limit: int | None = -1,
        grid: Grid | None = None,
    ) -> TrainingJob:
        """Starts training in a child process: one run, or with ``grid`` a leaderboard.

        Args:
            dataset: A checked dataset; the run's files go next to it, in its job folder.
            config: Settings (validated here).
            weights: Where the backbone's weights come from.
            time_limit: Seconds before Stop is pressed for you (default
                ``$MODEL_ZOO_MAX_TRAIN_SECONDS`` or 1800).
            memory_limit: Bytes of address space for the child (default
                ``default_memory_limit()``;
                None for no limit).
            grid: (backbones, heads) for a leaderboard of every combination on ``config``'s
                shared settings (``grid.train_grid``).

        Raises:
            ServerBusy: the server's training slots are all taken; try again later.
            ValueError: a bad setting.
        """
        config.validated()
        if not _SLOTS.acquire(blocking=False):
            held = [job.age_seconds() for job in list(_RUNNING) if job.running]
            if not held:  # one has just ended and is handing its slot back
                raise ServerBusy("A run is just ending; try again in a few seconds.")
            raise ServerBusy(
                "The server is busy training another visitor's model (for "
                f"{_duration(max(held))} so far); try again in a few minutes."
            )
        try:
            if time_limit is None:
                time_limit = float(_int_env(TIME_LIMIT_VAR, 1800))
            job = cls(
                dataset,
                config,
                weights,
                time_limit,
                default_memory_limit() if memory_limit == -1 else memory_limit,
                grid,
            )
            job._progress = Progress("starting TensorFlow", 0, 1)  # until the child reports
            job._launch()
            _RUNNING.add(job)
        except BaseException:
            _SLOTS.release()
            raise
        return job

    def _launch(self) -> None:
        self._run_dir = self.dataset.root.parent / f"run_{uuid.uuid4().hex[:12]}"
        self._run_dir.mkdir()
        write_request(
            self._run_dir,
            self.dataset,
            self.config,
            str(self.weights),
            self.memory_limit,
            self.grid,
        )
        self._child = Child(WORKER_MODULE, [str(self._run_dir)], log=self._run_dir / "worker.log")
        self._monitor = ResourceMonitor(self._child.pid).start()
        self._thread = threading.Thread(target=self._watch, name="model-zoo-training", daemon=True)
        self._thread.start()

    @property
    def _process(self) -> subprocess.Popen | None:
        """The training process (its ``returncode`` once the job has ended)."""
        return self._child.process if self._child is not None else None

    def _watch(self) -> None:
        """Reads the child's reports until it exits, then settles the job's state."""
        assert self._child is not None
        if self.time_limit:  # the limit presses Stop, which ends the process if it must
            self._after(self.time_limit, self._time_up)
        final: dict[str, Any] = {}
        try:
            # By the child's exit, not by end-of-file: a copy it forked may hold the pipe.
            for message in self._child.messages():
                if message.get("type") == Message.PROGRESS:
                    self._set(progress=Progress(**_fields(message, Progress)))
                elif message.get("type") == Message.EPOCH:
                    with self._lock:
                        self._history.append(EpochLog(**_fields(message, EpochLog)))
                elif message.get("type") == Message.ROW:
                    row = Row.from_dict(_fields(message, Row))
                    with self._lock:
                        self._rows.append(row)
                elif message.get("type") in FINAL:
                    final = message
            self._settle(final, self._child.wait())
        except Exception as err:  # loading the result, or a broken pipe: one line, logged
            log.exception("training job failed")
            self._finish("failed", f"Training failed: {type(err).__name__}: {err}")
        finally:
            self._child.kill()  # nothing it started outlives the job, whatever happened here
            self._child.wait()
            with self._lock:
                for timer in self._timers:
                    timer.cancel()
            if self._monitor is not None:
                self._monitor.stop()
            _SLOTS.release()

    def _settle(self, final: dict[str, Any], code: int) -> None:
        kind = final.get("type")
        if self._cancelled:
            self._finish("stopped", self._cancelled)
        elif kind == Message.DONE and self.grid:
            with self._lock:
                self._state = "stopped" if final.get("stopped") else "done"
        elif kind == Message.DONE:
            assert self._run_dir is not None
            result = load_result(self._run_dir / RESULT_DIR)  # its model stays on disk
            with self._lock:
                self._result = result
                self._state = "stopped" if result.stopped else "done"
        elif kind == Message.STOPPED:
            self._finish("stopped", str(final.get("message")))
        elif kind == Message.ERROR and not final.get("memory"):
            self._finish("failed", str(final.get("message")))
        elif kind == Message.ERROR:
            self._finish("failed", self._out_of_memory())
        else:
            tail = self._child.tail() if self._child is not None else ""
            log.warning("training process ended with status %s:\n%s", code, tail[-3000:])
            # Under an address-space limit, TensorFlow meets a failed allocation with a crash
            # (SIGSEGV, SIGBUS or SIGABRT) as often as with an error it can report.
            if ran_out_of_memory(code, self.memory_limit, tail):
                self._finish("failed", self._out_of_memory())
            elif code == -signal.SIGKILL:
                self._finish("failed", f"Training {exit_text(code)}; the server is fine.")
            else:
                self._finish(
                    "failed", f"Training {exit_text(code)}; the server log has its last lines."
                )

    def _out_of_memory(self) -> str:
        limit = f" of {self.memory_limit / 1e9:g} GB" if self.memory_limit else ""
        return (
            f"Training ran out of memory (its limit{limit}, {MEMORY_VAR}) and was ended; the "
            "server is fine. Try a smaller image size or batch size, or fewer images."
        )

    def _after(self, seconds: float, action: Any) -> None:
        """Runs ``action`` in ``seconds`` unless the job has ended by then."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def _time_up(self) -> None:
        if self._child is not None and self._child.alive():  # not when it has ended already
            self.stop()

    def _overdue(self) -> None:
        """Stop's grace time has run out: the run is ended, keeping nothing."""
        if self._child is not None and self._child.alive():
            self._cancelled = (
                f"Stopped: the run did not end within {STOP_GRACE_SECONDS:.0f} s of Stop, so "
                "it was ended; nothing was kept."
            )
            self._kill()

    def _set(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _finish(self, state: JobState, error: str) -> None:
        with self._lock:
            self._state, self._error = state, error

    def stop(self) -> None:
        """Asks training to end within one batch, keeping the best weights so far; if it
        has not ended ``STOP_GRACE_SECONDS`` later, it is ended."""
        if self._stop.is_set():
            return  # pressed already: its grace time runs
        self._stop.set()
        if self._child is not None and self._child.alive():
            self._child.send("stop")
            self._after(STOP_GRACE_SECONDS, self._overdue)

    def cancel(self, reason: str) -> None:
        """Ends the run at once, keeping nothing (its page was closed)."""
        self._cancelled = reason
        self._stop.set()
        self._kill()

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()  # the whole process group, forked copies included

    def age_seconds(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._started

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the run to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state == "running"

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                self._state,
                self._progress,
                tuple(self._history),
                self._result,
                self._error,
                self._stop.is_set(),
                tuple(ranked(self._rows)),
                self._monitor.samples() if self._monitor is not None else (),
            )

    def row_result(self, key: str) -> TrainResult:
        """A leaderboard combination's full result (``Row.key``), loaded from the job's
        folder (where it stays until the dataset's folder is removed); the last
        ``OPEN_ROWS`` opened stay in memory.

        Raises:
            KeyError: no finished combination has this key.
        """
        with self._lock:
            if key in self._row_results:
                self._row_results.move_to_end(key)
                return self._row_results[key]
            if self._run_dir is None or key not in {r.key for r in self._rows}:
                raise KeyError(key)
        result = load_result(row_folder(self._run_dir, key))
        with self._lock:
            self._row_results[key] = result
            while len(self._row_results) > OPEN_ROWS:
                self._row_results.popitem(last=False)
        return result


def _fields(
    message: dict[str, Any], kind: type[Progress] | type[EpochLog] | type[Row]
) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in message.items() if k in names}
