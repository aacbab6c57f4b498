"""Requests that arrive together share one engine call: a small per-model micro-batcher for
a server where several visitors compare at once.

A lone request runs at once, as before (no waiting for company). While the engine is busy,
new requests queue; when it is free, the next one in line takes the queue's first requests
up to ``max_images`` images and runs them as one batch. At batch 1 a model's time goes to
reading its weights; a batch reads them once for all its images. The engine keeps buffers
sized for the largest batch it has run: once no call has come for ``idle_seconds`` after
one of more than one image, ``on_idle`` lets them go (five models: 0.26 GB back, about 5 ms
on each model's next call; released at once, between close calls, that cost 8% of the
throughput at eight sessions).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class _Request:
    pixels: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


class MicroBatcher:
    """Runs ``run`` on batches merged from concurrent calls; thread-safe.

    Args:
        run: The engine: a batch ``(N, ...)`` in, ``(N, ...)`` out; called by one thread at
            a time.
        max_images: The most images one call merges (the engine's buffers grow to the
            largest batch they have seen, so this bounds the memory too).
        on_idle: Called, from a timer thread, ``idle_seconds`` after the last call when one
            since the last release had more than one image (to release the engine's buffers).
        idle_seconds: How long the engine must have been idle.
        lock: Held around each engine call, where the engine is shared with other work (and
            other engines): the batch is taken once it is held, so that the requests that
            came while it waited join it.
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        max_images: int = 4,
        on_idle: Callable[[], None] | None = None,
        idle_seconds: float = 2.0,
        lock: threading.Lock | None = None,
    ) -> None:
        self._run = run
        self._lock = lock
        self.max_images = max_images
        self._on_idle = on_idle
        self.idle_seconds = idle_seconds
        self._largest = 0  # images in the largest call since the last release
        self._calls = 0  # engine calls so far: the timer sees whether any came since
        self._timer: threading.Timer | None = None
        self._queue: list[_Request] = []
        self._busy = False
        self._changed = threading.Condition()
        self.batches = 0  # engine calls made (for tests and benches)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        request = _Request(pixels)
        with self._changed:
            self._queue.append(request)
            while self._busy and not request.done.is_set():
                self._changed.wait()
            if not request.done.is_set():  # the engine is free: this thread runs it
                self._busy = True
        if not request.done.is_set():
            self._drain(request)
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        """The queue's first requests, up to ``max_images`` images (at least one)."""
        taken: list[_Request] = []
        images = 0
        while self._queue and (not taken or images + len(self._queue[0].pixels) <= self.max_images):
            images += len(self._queue[0].pixels)
            taken.append(self._queue.pop(0))
        return taken

    def _drain(self, mine: _Request) -> None:
        """Runs batches until this thread's own request is answered, then hands over."""
        try:
            while not mine.done.is_set():
                with self._lock if self._lock is not None else contextlib.nullcontext():
                    with self._changed:
                        batch = self._take()
                    self._answer(batch)
                with self._changed:
                    self._changed.notify_all()  # those answered return now
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()  # the next in line (if any) runs the rest
                if self._largest > 1 and self._on_idle is not None:
                    self._arm(self._calls)

    def _arm(self, calls: int) -> None:
        """(Re)starts the idle timer for the state after ``calls`` engine calls."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.idle_seconds, self._idle, args=(calls,))
        self._timer.daemon = True
        self._timer.start()

    def _idle(self, calls: int) -> None:
        with self._changed:
            if self._busy or self._calls != calls or self._largest <= 1:
                return  # not idle after all: a later timer decides
            self._largest = 0
        assert self._on_idle is not None
        self._on_idle()

    def _answer(self, batch: list[_Request]) -> None:
        try:
            merged = (
                batch[0].pixels if len(batch) == 1 else np.concatenate([r.pixels for r in batch])
            )
            out = self._run(merged)
            self.batches += 1
            with self._changed:
                self._calls += 1
                self._largest = max(self._largest, len(merged))
            start = 0
            for request in batch:
                request.result = out[start : start + len(request.pixels)]
                start += len(request.pixels)
        except BaseException as err:  # each caller hears of its own batch's failure
            for request in batch:
                request.error = err
        finally:
            for request in batch:
                request.done.set()
