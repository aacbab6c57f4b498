"""The time left: a pure function of the plan and the progress events, replayed against a
recorded real run (``tests/record_eta_run.py``) and against crafted streams."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from model_zoo.finetune.eta import (
    PRIOR_SECONDS,
    TRAIN_FACTOR,
    Estimate,
    Step,
    estimates,
    eta_text,
)
from model_zoo.finetune.events import Progress

RECORD = Path(__file__).parent / "data" / "eta_run.json"


def _recorded() -> tuple[list[Step], list[tuple[float, Progress]], float]:
    record = json.loads(RECORD.read_text())
    plan = [Step(**step) for step in record["plan"]]
    events = [(at, Progress(**progress)) for at, progress in record["events"]]
    return plan, events, record["end"]


def _first_epoch_end(events: list[tuple[float, Progress]]) -> int:
    return next(
        i for i, (_, p) in enumerate(events) if p.validating and p.epoch == 1 and p.done == p.total
    )


def test_after_the_first_epoch_a_replayed_run_is_within_half_of_the_truth():
    plan, events, end = _recorded()
    replayed = estimates(plan, events)
    first = _first_epoch_end(events)
    checked = 0
    for (at, progress), estimate in list(zip(events, replayed, strict=True))[first:-1]:
        truth = end - at
        assert estimate.settled, (at, progress)
        assert abs(estimate.low - truth) <= 0.5 * truth, (at, progress.phase, estimate.low, truth)
        checked += 1
    assert checked >= 20
    settled = [e.low for e in replayed[first:-1]]
    for before, after in itertools.pairwise(settled):
        assert max(before, after) <= 2 * min(before, after), (before, after)


def test_before_the_first_epoch_it_is_a_range_or_nothing_and_never_zero_early():
    plan, events, _ = _recorded()
    replayed = estimates(plan, events)
    first = _first_epoch_end(events)
    assert replayed[0] == Estimate(None, None) or not replayed[0].settled
    for estimate in replayed[:first]:
        assert not estimate.settled
        if estimate.low is not None:
            assert 0 < estimate.low < estimate.high
    last_step = plan[-1].name
    for (_, progress), estimate in zip(events, replayed, strict=True):
        if progress.phase != last_step and estimate.low is not None:
            assert estimate.low >= 1.0, progress


def _epochs_stream(epoch_seconds: float, epochs: int, steps: int = 4, val: int = 2):
    """A training step whose every epoch takes ``epoch_seconds`` (a fifth of it validating)."""
    at, events = 0.0, []
    per_train, per_val = 0.8 * epoch_seconds / steps, 0.2 * epoch_seconds / val
    for epoch in range(1, epochs + 1):
        for batch in range(1, steps + 1):
            at += per_train
            events.append((at, Progress("training head", batch, steps, epoch, epochs)))
        for batch in range(1, val + 1):
            at += per_val
            events.append(
                (at, Progress("training head", batch, val, epoch, epochs, validating=True))
            )
    return events


@pytest.mark.parametrize("epoch_seconds", [0.5, 4.0, 60.0])
def test_steady_epochs_are_counted_down_exactly(epoch_seconds):
    plan = [Step("training head", "head", 64, 5, 32)]
    events = _epochs_stream(epoch_seconds, 5)
    replayed = estimates(plan, events)
    end = events[-1][0]
    first = _first_epoch_end(events)
    for (at, _), estimate in list(zip(events, replayed, strict=True))[first:]:
        assert estimate.low == pytest.approx(end - at, rel=0.02, abs=1e-6)


def test_a_slower_second_step_is_guessed_from_the_first_then_measured():
    plan = [
        Step("training head", "forward", 64, 2, 32),
        Step("fine-tuning", "forward", 64, 2, 32, cost=1.5),
    ]
    events = _epochs_stream(10.0, 2)
    tuned = [
        (
            events[-1][0] + at,
            Progress("fine-tuning", p.done, p.total, p.epoch, p.epochs, validating=p.validating),
        )
        for at, p in _epochs_stream(15.0, 2)
    ]
    replayed = estimates(plan, events + tuned)
    # After the head's first epoch: its last epoch, then two fine-tuning epochs at 1.5×
    # the training pace (validation at the measured pace).
    after_first = replayed[_first_epoch_end(events)]
    assert after_first.low == pytest.approx(10.0 + 2 * (8.0 * 1.5 + 2.0), rel=0.02)
    assert replayed[-2].low == pytest.approx(tuned[-1][0] - tuned[-2][0], rel=0.05)


@pytest.mark.parametrize(
    ("low", "high", "stopping", "text"),
    [
        (None, None, False, "estimating the time left…"),
        (10.0, 40.0, False, "roughly 10–40 s left (estimating)"),
        (30.0, 200.0, False, "roughly 30 s–3 min 20 s left (estimating)"),
        (44.4, 44.4, False, "about 44 s left"),
        (125.0, 125.0, False, "about 2 min 05 s left"),
        (0.2, 0.2, False, "finishing…"),
        (44.4, 44.4, True, "stopping…"),
        (None, None, True, "stopping…"),
    ],
)
def test_the_time_left_reads(low, high, stopping, text):
    assert eta_text(low, high, stopping) == text


def test_a_measured_pass_prices_the_steps_of_its_kind_still_to_come():
    plan = [
        Step("loading images", "decode", 100),
        Step("extracting features", "forward", 100),
        Step("training head", "head", 30, epochs=1),
        Step("evaluating", "forward", 20),
    ]
    priors = PRIOR_SECONDS
    head = 30 * priors["head"] * TRAIN_FACTOR
    half_loaded, measured = estimates(
        plan,
        [
            (1.0, Progress("loading images", 50, 100)),  # 0.02 s per image decoded
            (3.0, Progress("extracting features", 5, 10)),  # 50 images in 2 s
        ],
    )
    # Before an epoch: a range around the guess, each step at its kind's rate so far.
    guess = 50 * 0.02 + 100 * priors["forward"] + head + 20 * priors["forward"]
    assert (half_loaded.low, half_loaded.high) == pytest.approx((guess / 2, guess * 2))
    guess = (50 + 20) * 0.04 + head
    assert (measured.low, measured.high) == pytest.approx((guess / 2, guess * 2))


def test_events_of_another_run_or_phase_say_nothing_new():
    plan = [Step("training head", "head", 30, epochs=2)]
    assert estimates(plan, [(1.0, Progress("somewhere else", 1, 2))]) == [Estimate(None, None)]
