"""The live panel's status line, a pure function of the job's snapshot: table-driven."""

from __future__ import annotations

import pytest

from model_zoo.finetune.events import EpochLog, Progress
from model_zoo.finetune.jobs import JobSnapshot
from ui.finetune.live import Status, status


def _snap(state="running", progress=None, stop=False, history=(), rows=(), error=None):
    return JobSnapshot(state, progress, tuple(history), None, error, stop, tuple(rows))


EPOCH = EpochLog("training head", 1, 1.0, 0.5, 1.0, 0.5, 2.0)
TUNED = EpochLog("fine-tuning", 2, 1.0, 0.5, 1.0, 0.5, 2.0)


@pytest.mark.parametrize(
    ("snap", "early", "expected"),
    [
        (
            _snap(progress=Progress("starting TensorFlow", 0, 1)),
            True,
            Status("**Starting TensorFlow**", 0.0, "estimating the time left…"),
        ),
        (
            _snap(progress=Progress("loading images", 30, 120, eta_low=10.0, eta_high=40.0)),
            True,
            Status("**Loading images**", 0.25, "image 30/120 · roughly 10–40 s left (estimating)"),
        ),
        (
            _snap(progress=Progress("training head", 2, 5, 3, 10, 44.4, 44.4)),
            True,
            Status(
                "**Training head** · epoch 3/10",
                0.4,
                "batch 2/5 · about 44 s left (less if it stops early)",
            ),
        ),
        (
            _snap(progress=Progress("training head", 1, 2, 3, 10, 44.4, 44.4, validating=True)),
            False,
            Status(
                "**Training head** · epoch 3/10 · validation pass",
                0.5,
                "batch 1/2 · about 44 s left",
            ),
        ),
        (
            _snap(progress=Progress("training head", 2, 5, 3, 10, 44.4, 44.4), stop=True),
            True,
            Status("**Training head** · epoch 3/10", 0.4, "batch 2/5 · stopping…"),
        ),
        (
            _snap(progress=Progress("training head", 1, 4, 1, 5, 9.0, 9.0, "vgg16 + gap", 2, 6)),
            False,
            Status(
                "**Training head** · epoch 1/5 · **VGG16 · global pool** (combination 2 of 6)",
                0.25,
                "batch 1/4 · about 9 s left",
            ),
        ),
        (_snap("failed", error="ran out of memory"), True, Status("**Failed**: ran out of memory")),
        (
            _snap("done", history=[EPOCH, TUNED]),
            True,
            Status("**Finished** after 2 epochs (1 of them fine-tuning)."),
        ),
        (_snap("stopped", history=[EPOCH]), True, Status("**Stopped** after 1 epoch.")),
        (_snap("stopped"), True, Status("**Stopped** before the first epoch ended.")),
        (
            _snap("done", rows=[object(), object()]),
            True,
            Status("**Finished**: 2 combinations on the board."),
        ),
    ],
)
def test_the_status_line_says_where_the_run_is(snap, early, expected):
    assert status(snap, early) == expected
