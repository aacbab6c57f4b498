"""Training jobs in background threads: one per session, a server-wide cap, Stop, progress.

The app's pages poll ``TrainingJob.snapshot()``; nothing here knows about Streamlit.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from model_zoo.datasets import Dataset
from model_zoo.training import EpochLog, Progress, TrainConfig, TrainingStopped, TrainResult, train
from model_zoo.weights import MissingWeightsError, WeightsSource

log = logging.getLogger(__name__)

MAX_TRAININGS_VAR = "MODEL_ZOO_MAX_TRAININGS"
TIME_LIMIT_VAR = "MODEL_ZOO_MAX_TRAIN_SECONDS"


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


# Server-wide: every session of the process shares these slots.
_SLOTS = threading.BoundedSemaphore(_int_env(MAX_TRAININGS_VAR, 1))


class ServerBusy(RuntimeError):
    """All training slots of the server are taken."""


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state for one page render."""

    state: str  # running, done, stopped, failed
    progress: Progress | None
    history: tuple[EpochLog, ...]
    result: TrainResult | None
    error: str | None
    stop_requested: bool


@dataclass
class TrainingJob:
    """One training run in its own thread."""

    dataset: Dataset
    config: TrainConfig
    weights: WeightsSource
    time_limit: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _state: str = "running"
    _progress: Progress | None = None
    _history: list[EpochLog] = field(default_factory=list)
    _result: TrainResult | None = None
    _error: str | None = None
    _thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        dataset: Dataset,
        config: TrainConfig,
        weights: WeightsSource,
        time_limit: float | None = None,
    ) -> TrainingJob:
        """Starts training in a background thread.

        Raises:
            ServerBusy: the server's training slots are all taken; try again later.
            ValueError: a bad setting.
        """
        config.validated()
        if not _SLOTS.acquire(blocking=False):
            raise ServerBusy(
                "The server is busy training someone else's model; try again in a few minutes."
            )
        if time_limit is None:
            time_limit = float(_int_env(TIME_LIMIT_VAR, 1800))
        job = cls(dataset, config, weights, time_limit)
        job._progress = Progress("starting TensorFlow", 0, 1)  # until train() reports
        job._thread = threading.Thread(target=job._run, name="model-zoo-training", daemon=True)
        try:
            job._thread.start()
        except RuntimeError:
            _SLOTS.release()
            raise
        return job

    def _on_progress(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _on_epoch(self, entry: EpochLog) -> None:
        with self._lock:
            self._history.append(entry)

    def _run(self) -> None:
        # The time limit presses Stop: every phase that honours Stop honours the limit.
        timer = threading.Timer(self.time_limit, self._stop.set) if self.time_limit else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            result = train(
                self.dataset,
                self.config,
                self.weights,
                stop=self._stop,
                on_progress=self._on_progress,
                on_epoch=self._on_epoch,
            )
            with self._lock:
                self._result = result
                self._state = "stopped" if result.stopped else "done"
        except TrainingStopped:
            self._finish("stopped", "Stopped before the first epoch finished; nothing to keep.")
        except (MissingWeightsError, ValueError) as err:
            self._finish("failed", str(err))
        except Exception as err:  # the page shows one line; the log keeps the traceback
            log.exception("training failed")
            self._finish("failed", f"Training failed: {type(err).__name__}: {err}")
        finally:
            if timer is not None:
                timer.cancel()
            _SLOTS.release()

    def _finish(self, state: str, error: str) -> None:
        with self._lock:
            self._state, self._error = state, error

    def stop(self) -> None:
        """Asks training to end within one batch, keeping the best weights so far."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the thread; True when it has ended."""
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
            )
