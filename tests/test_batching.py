"""The micro-batcher: a lone request runs at once; requests that queue while the engine is
busy share its next call, up to the image bound; failures reach their own callers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from model_zoo.batching import MicroBatcher


class GatedEngine:
    """Doubles its input; the first call waits for ``gate`` (so that others queue)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.gate = threading.Event()
        self.sizes: list[int] = []
        self.fail_on = fail_on

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if not self.sizes:
            self.gate.wait(10)
        self.sizes.append(len(batch))
        if self.fail_on is not None and len(self.sizes) == self.fail_on:
            raise RuntimeError("engine failed")
        return batch * 2


def _queued(batcher: MicroBatcher, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(batcher._queue) < n:
        assert time.monotonic() < deadline, "the requests never queued"
        time.sleep(0.01)


def _callers(batcher: MicroBatcher, values: list[float], sizes: list[int] | None = None):
    results: dict[float, object] = {}

    def call(value: float, size: int) -> None:
        try:
            results[value] = batcher(np.full((size, 2), value, np.float32))
        except RuntimeError as err:
            results[value] = err

    threads = [
        threading.Thread(target=call, args=(v, (sizes or [1] * len(values))[i]))
        for i, v in enumerate(values)
    ]
    return threads, results


def test_a_lone_request_runs_at_once_in_one_call():
    engine = GatedEngine()
    engine.gate.set()
    batcher = MicroBatcher(engine, max_images=4)
    out = batcher(np.ones((3, 2), np.float32))
    assert engine.sizes == [3] and np.all(out == 2)


@pytest.mark.parametrize(
    ("waiting", "sizes", "expected"),
    [
        ([1.0, 2.0, 3.0], [1, 1, 1], [1, 3]),  # three queued: one merged call
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1] * 6, [1, 4, 2]),  # the bound splits them
        ([1.0, 2.0], [5, 1], [1, 5, 1]),  # a request over the bound runs alone
    ],
)
def test_requests_queued_while_busy_share_the_next_calls(waiting, sizes, expected):
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_images=4)
    first, first_results = _callers(batcher, [0.5])
    first[0].start()
    _queued(batcher, 0)
    deadline = time.monotonic() + 10
    while not batcher._busy:  # the first call is inside the engine, held at the gate
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads, results = _callers(batcher, waiting, sizes)
    for t in threads:
        t.start()
    _queued(batcher, len(waiting))
    engine.gate.set()
    for t in [*first, *threads]:
        t.join(10)
    assert engine.sizes == expected
    for value, size in zip(waiting, sizes, strict=True):
        got = results[value]
        assert isinstance(got, np.ndarray) and got.shape == (size, 2) and np.all(got == 2 * value)
    assert np.all(first_results[0.5] == 1.0)


def test_a_failure_reaches_the_callers_of_its_batch_only():
    engine = GatedEngine(fail_on=2)
    batcher = MicroBatcher(engine, max_images=4)
    first, first_results = _callers(batcher, [0.5])
    first[0].start()
    deadline = time.monotonic() + 10
    while not batcher._busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads, results = _callers(batcher, [1.0, 2.0])
    for t in threads:
        t.start()
    _queued(batcher, 2)
    engine.gate.set()
    for t in [*first, *threads]:
        t.join(10)
    assert isinstance(results[1.0], RuntimeError) and isinstance(results[2.0], RuntimeError)
    assert isinstance(first_results[0.5], np.ndarray)
    assert np.all(batcher(np.ones((1, 2), np.float32)) == 2)  # and it still works


def test_the_engine_is_told_once_idle_after_a_merged_call():
    released = threading.Event()
    engine = GatedEngine()
    batcher = MicroBatcher(engine, 4, on_idle=released.set, idle_seconds=0.2)
    engine.gate.set()
    batcher(np.ones((1, 2), np.float32))
    assert not released.wait(0.5)  # a lone image: its buffers are the smallest already
    batcher(np.ones((3, 2), np.float32))
    batcher(np.ones((1, 2), np.float32))  # a call before the timer: it waits for quiet
    assert not released.is_set()
    assert released.wait(5)  # then, once quiet, it is told
    released.clear()
    batcher(np.ones((1, 2), np.float32))
    assert not released.wait(0.5)  # released already: nothing more to let go


def test_requests_that_come_while_the_shared_lock_is_held_join_the_batch():
    """Another model holds the engine (the shared lock): the first caller waits for it
    with the batch not yet taken, so those who come meanwhile are in it."""
    engine = GatedEngine()
    engine.gate.set()
    shared = threading.Lock()
    batcher = MicroBatcher(engine, max_images=4, lock=shared)
    shared.acquire()
    threads, results = _callers(batcher, [1.0, 2.0, 3.0])
    for t in threads:
        t.start()
    _queued(batcher, 3)
    shared.release()
    for t in threads:
        t.join(10)
    assert engine.sizes == [3]
    assert all(np.all(results[v] == 2 * v) for v in (1.0, 2.0, 3.0))
