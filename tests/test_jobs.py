"""Jobs in threads: the server-wide cap, Stop, and Compare running while a model trains."""

import pytest

from model_zoo.jobs import ServerBusy, TrainingJob
from model_zoo.training import TrainConfig
from model_zoo.weights import WeightsSource
from tests.conftest import assert_parallel_matches_serial

pytestmark = pytest.mark.slow
RANDOM = WeightsSource("random")


def test_second_training_is_told_busy_while_compare_keeps_working(colour_dataset, classifiers, rng):
    config = TrainConfig(
        backbone="resnet50",
        epochs=50,
        batch_size=4,
        image_size=64,
        augment=True,
        early_stopping=False,
    )
    job = TrainingJob.start(colour_dataset, config, RANDOM)
    try:
        with pytest.raises(ServerBusy, match="try again"):
            TrainingJob.start(colour_dataset, config, RANDOM)
        # eight threads predicting on a shared model while the training runs
        assert_parallel_matches_serial(classifiers["resnet50"], rng)
        assert job.running
    finally:
        job.stop()
        assert job.join(timeout=120)
    # the slot is free again once the first job has ended
    second = TrainingJob.start(
        colour_dataset, TrainConfig(backbone="resnet50", epochs=1, image_size=48), RANDOM
    )
    assert second.join(timeout=300)
    assert second.snapshot().state == "done"


def test_failure_is_reported_in_one_line(colour_dataset, tmp_path):
    job = TrainingJob.start(
        colour_dataset,
        TrainConfig(backbone="xception", epochs=1),
        WeightsSource("folder", tmp_path),
    )
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "failed" and snap.result is None
    assert (
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 is not in the weights folder"
        in snap.error
    )


def test_time_limit_stops_the_run_like_the_stop_button(colour_dataset):
    import time

    config = TrainConfig(
        backbone="resnet50",
        epochs=100,
        batch_size=4,
        image_size=64,
        augment=True,
        early_stopping=False,
    )
    start = time.monotonic()
    job = TrainingJob.start(colour_dataset, config, RANDOM, time_limit=8)
    assert job.join(timeout=300)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.stop_requested
    assert len(snap.history) < 100
    assert time.monotonic() - start < 120  # ended by the limit, not by running 100 epochs
