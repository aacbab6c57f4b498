"""Jobs in threads: the server-wide cap, Stop, and Compare running while a model trains."""

from pathlib import Path

import pytest

from model_zoo.finetune.jobs import ServerBusy, TrainingJob
from model_zoo.finetune.settings import TrainConfig
from model_zoo.weights import WeightsSource
from tests.conftest import assert_parallel_matches_serial

pytestmark = pytest.mark.slow
RANDOM = WeightsSource("random")


def _until_first_epoch(job: TrainingJob, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not job.snapshot().history and time.monotonic() < deadline:
        time.sleep(0.2)


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
    _until_first_epoch(job)
    start = time.monotonic()
    job.cancel("Stopped: the page that started this run was closed.")
    assert job.join(timeout=30)
    assert time.monotonic() - start < 10
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.result is None
    assert snap.error == "Stopped: the page that started this run was closed."
    assert job._process.returncode < 0  # killed, not finished
    last = TrainingJob.start(colour_dataset, TrainConfig(epochs=1, image_size=48), RANDOM)
    last.cancel("x")
    assert last.join(timeout=30)  # its slot is back before the next test starts one


def test_stale_job_folders_are_swept_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from model_zoo.finetune.folders import JOB_PREFIX, sweep_job_folders

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

    from model_zoo.finetune.folders import new_job_folder

    with new_job_folder() as folder:
        assert (Path(folder) / "owner.pid").read_text() == str(os.getpid())


# --- faults forced on any CPU: each ends the job within 15 s, in one line, leaving nothing ---


def _left_behind(job) -> list[str]:
    """Processes whose command line names the job's run folder (the worker or its copies)."""
    from tests.conftest import processes_naming

    return processes_naming(job._run_dir)


def _ends_within(job, seconds: float = 15.0) -> float:
    import time

    start = time.monotonic()
    assert job.join(timeout=seconds), "the job still runs"
    return time.monotonic() - start


def _assert_slot_free(dataset) -> None:
    """The next run starts (no ServerBusy); it is ended at once."""
    again = TrainingJob.start(dataset, TrainConfig(epochs=1, image_size=48), RANDOM)
    again.cancel("x")
    assert again.join(timeout=30)
    assert _left_behind(again) == []


@pytest.fixture
def faulty_worker(monkeypatch):
    """Runs jobs on tests/faulty_worker.py; the test says which fault."""
    from model_zoo.finetune import jobs

    monkeypatch.setattr(jobs, "WORKER_MODULE", "tests.faulty_worker")

    def fault(kind: str) -> None:
        monkeypatch.setenv("MODEL_ZOO_TEST_FAULT", kind)

    return fault


@pytest.mark.parametrize(
    ("memory_limit", "expected"),
    [
        (None, "Training crashed (signal 11, SIGSEGV); the server log has its last lines."),
        (int(2.2e9), "Training ran out of memory (its limit of 2.2 GB"),
    ],
)
def test_a_child_that_forks_a_sleeper_then_segfaults_ends_the_job(
    colour_dataset, faulty_worker, memory_limit, expected
):
    faulty_worker("fork_segv")
    job = TrainingJob.start(
        colour_dataset, TrainConfig(epochs=1), RANDOM, memory_limit=memory_limit
    )
    _ends_within(job)
    snap = job.snapshot()
    assert snap.state == "failed" and snap.result is None
    assert snap.error.startswith(expected) and "\n" not in snap.error
    assert job._process.returncode == -11
    assert _left_behind(job) == []  # the forked copy ended with the job
    _assert_slot_free(colour_dataset)


def test_a_child_killed_mid_run_says_it_was_killed(colour_dataset):
    import os
    import signal

    config = TrainConfig(epochs=100, batch_size=4, image_size=48, early_stopping=False)
    job = TrainingJob.start(colour_dataset, config, RANDOM)
    _until_first_epoch(job)
    assert job.running and job.snapshot().history, "the run never reached its first epoch"
    os.kill(job._process.pid, signal.SIGKILL)  # as the kernel's OOM killer or a person would
    _ends_within(job)
    snap = job.snapshot()
    assert snap.state == "failed" and "\n" not in snap.error
    assert snap.error.startswith("Training was killed (signal 9, SIGKILL")
    assert "ran out of memory" not in snap.error  # nothing says memory ran out
    assert _left_behind(job) == []
    _assert_slot_free(colour_dataset)


def test_a_memory_limit_far_too_small_ends_in_one_line(colour_dataset):
    job = TrainingJob.start(colour_dataset, TrainConfig(epochs=1), RANDOM, memory_limit=int(3e8))
    _ends_within(job, 60)
    snap = job.snapshot()
    assert snap.state == "failed" and "\n" not in snap.error
    assert snap.error.startswith("Training ran out of memory (its limit of 0.3 GB")
    assert _left_behind(job) == []
    _assert_slot_free(colour_dataset)


@pytest.mark.parametrize("how", ["stop", "time limit"])
def test_a_run_that_ignores_stop_is_ended_after_the_grace_time(
    colour_dataset, faulty_worker, monkeypatch, how
):
    import time

    from model_zoo.finetune import jobs

    faulty_worker("hang")
    monkeypatch.setattr(jobs, "STOP_GRACE_SECONDS", 1.0)
    job = TrainingJob.start(
        colour_dataset, TrainConfig(epochs=1), RANDOM, time_limit=1 if how == "time limit" else 0
    )
    deadline = time.monotonic() + 30
    while job.snapshot().progress.phase != "building" and time.monotonic() < deadline:
        time.sleep(0.1)
    if how == "stop":
        job.stop()
    _ends_within(job)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.stop_requested
    assert snap.error.startswith("Stopped: the run did not end within 1 s of Stop")
    assert job._process.returncode == -9
    assert _left_behind(job) == []
    _assert_slot_free(colour_dataset)


_SERVER = """
import sys, time
from pathlib import Path
from model_zoo.datasets import extract_dataset
from model_zoo.finetune import jobs
from model_zoo.finetune.settings import TrainConfig
from model_zoo.weights import WeightsSource
from tests.conftest import colour_class_zip

jobs.WORKER_MODULE = "tests.faulty_worker"
dataset = extract_dataset(colour_class_zip(), Path(sys.argv[1]))
job = jobs.TrainingJob.start(dataset, TrainConfig(epochs=1), WeightsSource("random"))
while job.snapshot().progress.phase != "building":
    time.sleep(0.1)
print(job._run_dir, flush=True)
sys.stdin.readline()  # then it exits, as a server does when it is shut down
"""


@pytest.mark.parametrize("how", ["exits", "is killed"])
def test_no_run_outlives_the_server_that_started_it(tmp_path, how):
    """A server that exits ends its runs' groups; one killed by SIGKILL closes their stdin,
    and each run then ends its own group (its forked copy included)."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT, processes_naming

    env = {**os.environ, "PYTHONPATH": str(ROOT), "MODEL_ZOO_TEST_FAULT": "hang"}
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    run_dir = server.stdout.readline().strip()
    assert run_dir and len(processes_naming(run_dir)) == 2  # the worker and its copy
    if how == "is killed":
        server.kill()
    else:
        server.stdin.write("exit\n")
        server.stdin.flush()
    server.wait(timeout=30)
    server.stdin.close()
    server.stdout.close()
    deadline = time.monotonic() + 15
    while processes_naming(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_naming(run_dir) == []
