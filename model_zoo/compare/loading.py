"""Loading the Compare models in the background, with each model's readiness to show.

A server starts one ``ModelLoader`` at start-up; by the time someone picks a photo the
models are (usually) compiled and warm. Pages ask ``states()`` to show progress and ``wait``
for the models they need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from model_zoo import runtime
from model_zoo.children import error_line
from model_zoo.compare.inference import Classifier, load_classifier
from model_zoo.engine import IR_FILE, Converted, EngineSettings, convert, ir_folder, openvino_core
from model_zoo.registry import get_spec
from model_zoo.weights import MissingWeightsError, WeightsSource

StateName = Literal["waiting", "converting", "loading", "ready", "failed"]


@dataclass(frozen=True)
class ModelState:
    """Where one model is.

    Attributes:
        name: Registry name.
        state: ``waiting`` (queued), ``converting`` (to OpenVINO, once per weights),
            ``loading``, ``ready`` or ``failed``.
        detail: The engine when ready (e.g. "OpenVINO bf16"); the reason when failed.
        missing: It failed because its weights are missing (``weights.how_to_provide``).
        seconds: Time from the start of its turn to ready (or failure).
    """

    name: str
    state: StateName
    detail: str = ""
    missing: bool = False
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.state in ("ready", "failed")


class ModelLoader:
    """Loads models one after another in a background thread; thread-safe.

    Args:
        weights: The weights every model loads.
        settings: Engine and precision.
    """

    def __init__(self, weights: WeightsSource, settings: EngineSettings) -> None:
        self.weights = weights
        self.settings = settings
        self._states: dict[str, ModelState] = {}
        self._classifiers: dict[str, Classifier] = {}
        self._queue: list[str] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, names: Iterable[str]) -> None:
        """Queues the models not yet ready, loading or queued (failed ones are retried)."""
        with self._changed:
            for name in names:
                get_spec(name)
                current = self._states.get(name)
                if current is None or current.state == "failed":
                    self._states[name] = ModelState(name, "waiting")
                    self._queue.append(name)
            if self._queue and (self._thread is None or not self._thread.is_alive()):
                self._thread = runtime.start_background(self._run, "model-zoo-loader")
            self._changed.notify_all()

    def states(self, names: Sequence[str] | None = None) -> list[ModelState]:
        """The states of ``names`` (default: every model asked for), in that order."""
        with self._changed:
            chosen = list(self._states) if names is None else names
            return [self._states.get(n, ModelState(n, "waiting")) for n in chosen]

    def wait(self, name: str, timeout: float | None = None) -> ModelState:
        """Blocks until ``name`` is ready or failed (starting it if needed), or the timeout."""
        self.start([name])
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._states[name].done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._states[name]

    def classifier(self, name: str) -> Classifier | None:
        """The loaded classifier, or None while it is not ready."""
        with self._changed:
            return self._classifiers.get(name)

    def _set(
        self,
        name: str,
        state: StateName,
        detail: str = "",
        missing: bool = False,
        seconds: float = 0.0,
    ) -> None:
        with self._changed:
            self._states[name] = ModelState(name, state, detail, missing, seconds)
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                batch, self._queue = self._queue, []
            if not batch:
                return
            if self.settings.wants_openvino and openvino_core() is not None:
                self._load_openvino(batch)
            else:
                for name in batch:
                    self._load(name, time.perf_counter(), None)

    def _load_openvino(self, names: list[str]) -> None:
        precision = self.settings.resolved_precision()
        started = time.perf_counter()
        for name in names:
            try:
                cached = (ir_folder(get_spec(name), self.weights, precision) / IR_FILE).is_file()
            except MissingWeightsError:
                cached = True  # convert() reports it at once
            self._set(name, "loading" if cached else "converting")
        convert(names, self.weights, precision, lambda c: self._load(c.name, started, c))

    def _load(self, name: str, started: float, converted: Converted | None) -> None:
        self._set(name, "loading")
        try:
            classifier = load_classifier(name, self.weights, self.settings, converted)
        except MissingWeightsError as err:
            self._set(name, "failed", detail=err.problem, missing=True)
            return
        except Exception as err:  # any failure is shown on the page, never raised there
            self._set(name, "failed", detail=error_line(err))
            return
        with self._changed:
            self._classifiers[name] = classifier
        self._set(
            name,
            "ready",
            detail=classifier.engine_label,
            seconds=time.perf_counter() - started,
        )
