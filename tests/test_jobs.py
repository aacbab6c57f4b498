"""Jobs in threads: the server-wide cap, Stop, and Compare running while a model trains."""

from pathlib import Path

import pytest

from model_zoo.finetune.jobs import ServerBusy, TrainingJob
from model_zoo.finetune.settings import TrainConfig
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


def test_a_run_over_its_memory_limit_ends_alone_with_one_line(colour_dataset):
    import os

    config = TrainConfig(backbone="resnet50", epochs=2, batch_size=8, image_size=96, augment=True)
    job = TrainingJob.start(colour_dataset, config, RANDOM, memory_limit=int(2.2e9))
    assert job.join(timeout=300)
    snap = job.snapshot()
    assert snap.state == "failed" and snap.result is None
    assert snap.error.startswith("Training ran out of memory (its limit of 2.2 GB")
    assert "\n" not in snap.error
    assert job._process.pid != os.getpid()  # it was another process that died
    # this process (the server) lives on, and the slot is free for the next run
    again = TrainingJob.start(colour_dataset, TrainConfig(epochs=1, image_size=48), RANDOM)
    assert again.join(timeout=300) and again.snapshot().state == "done"


def test_cancel_ends_the_process_at_once_and_frees_the_slot(colour_dataset):
    import time

    config = TrainConfig(epochs=100, batch_size=4, image_size=64, augment=True)
    job = TrainingJob.start(colour_dataset, config, RANDOM)
    deadline = time.monotonic() + 120
    while not job.snapshot().history and time.monotonic() < deadline:
        time.sleep(0.2)
    start = time.monotonic()
    job.cancel("Stopped: the page that started this run was closed.")
    assert job.join(timeout=30)
    assert time.monotonic() - start < 10
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.result is None
    assert snap.error == "Stopped: the page that started this run was closed."
    assert job._process.returncode < 0  # killed, not finished
    TrainingJob.start(colour_dataset, TrainConfig(epochs=1, image_size=48), RANDOM).cancel("x")


def test_stale_job_folders_are_swept_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from model_zoo.finetune.jobs import JOB_PREFIX, sweep_job_folders

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale, live, old, fresh = (tmp_path / f"{JOB_PREFIX}{n}" for n in ("a", "b", "c", "d"))
    for folder in (stale, live, old, fresh):
        (folder / "data").mkdir(parents=True)
    (stale / "owner.pid").write_text(dead.stdout.strip())  # a killed server's
    (live / "owner.pid").write_text(str(os.getpid()))
    os.utime(old, (0, 0))  # no owner, two days old
    (tmp_path / "unrelated").mkdir()
    assert sorted(sweep_job_folders(tmp_path)) == [stale, old]
    assert live.exists() and fresh.exists() and (tmp_path / "unrelated").exists()


def test_the_job_folder_is_marked_with_its_owner():
    import os

    from model_zoo.finetune.jobs import new_job_folder

    with new_job_folder() as folder:
        assert (Path(folder) / "owner.pid").read_text() == str(os.getpid())
