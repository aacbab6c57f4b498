"""model_zoo.children: how a child's end is read, and a child that never leaves a process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from model_zoo.children import (
    BACKGROUND_NICE,
    Child,
    error_line,
    exit_text,
    is_memory_error,
    memory_limit_from_env,
    ran_out_of_memory,
)

GB = int(1e9)


@pytest.mark.parametrize(
    ("code", "limit", "tail", "expected"),
    [
        (-signal.SIGSEGV, 2 * GB, "", True),
        (-signal.SIGBUS, 2 * GB, "", True),
        (-signal.SIGABRT, 2 * GB, "", True),
        (-signal.SIGSEGV, None, "", False),  # no limit: a crash is a crash
        (-signal.SIGKILL, 2 * GB, "", False),  # from outside, not a failed allocation
        (-signal.SIGTERM, 2 * GB, "", False),
        (1, None, "MemoryError", True),
        (1, None, "ImportError: failed to map segment from shared object", True),
        (1, None, "ValueError: bad", False),
        (0, 2 * GB, "out of memory", False),  # it ended well
    ],
)
def test_ran_out_of_memory(code, limit, tail, expected):
    assert ran_out_of_memory(code, limit, tail) is expected


@pytest.mark.parametrize(
    ("err", "limit", "expected"),
    [
        (MemoryError(), None, True),
        (RuntimeError("OOM when allocating tensor with shape[64,512]"), None, True),
        (ImportError("libx.so: failed to map segment from shared object"), None, True),
        (SystemError("error return without exception set"), 2 * GB, True),
        (SystemError("error return without exception set"), None, False),
        (ValueError("Unknown layer"), 2 * GB, False),
    ],
)
def test_is_memory_error(err, limit, expected):
    assert is_memory_error(err, limit) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (-9, "was killed (signal 9, SIGKILL, from outside the process: the machine may be out"),
        (-11, "crashed (signal 11, SIGSEGV)"),
        (-6, "crashed (signal 6, SIGABRT)"),
        (-200, "crashed (signal 200, unknown)"),
        (3, "ended unexpectedly (exit status 3)"),
    ],
)
def test_exit_text(code, expected):
    assert exit_text(code).startswith(expected)


@pytest.mark.parametrize(
    ("err", "with_type", "expected"),
    [
        (ValueError("bad\nsecond line"), True, "ValueError: bad"),
        (ValueError("\n  \n  indented first\nmore"), True, "ValueError: indented first"),
        (ValueError(""), True, "ValueError"),
        (ValueError(""), False, "ValueError"),
        (OSError("x" * 500), False, "x" * 300),
    ],
)
def test_error_line(err, with_type, expected):
    assert error_line(err, with_type=with_type) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 10 * GB), ("2.5", int(2.5e9)), ("0", None), ("lots", 10 * GB)]
)
def test_memory_limit_from_env(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("MODEL_ZOO_TEST_GB", raising=False)
    else:
        monkeypatch.setenv("MODEL_ZOO_TEST_GB", value)
    assert memory_limit_from_env("MODEL_ZOO_TEST_GB", 10.0) == expected


def _group(child: Child) -> list[int]:
    """Live processes in the child's process group (zombies are dead)."""
    found = []
    for p in psutil.process_iter(["status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and _pgid(p.pid) == child.pid:
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


def _pgid(pid: int) -> int | None:
    import os

    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


@pytest.mark.slow
def test_a_child_that_forked_a_copy_ends_by_its_exit_status_and_takes_the_copy():
    start = time.monotonic()
    with Child("tests.child_programs", ["fork_then_exit"]) as child:
        messages = list(child.messages())
    assert time.monotonic() - start < 15  # not waiting for the copy's end-of-file
    assert messages == [{"n": 1}, {"n": 2}]
    assert child.returncode == 3 and not child.timed_out
    assert _group(child) == []


@pytest.mark.slow
def test_a_child_past_its_deadline_is_ended_with_its_group():
    with Child("tests.child_programs", ["hang"]) as child:
        messages = list(child.messages(deadline=time.monotonic() + 3))
    assert messages == [{"n": 1}]
    assert child.timed_out and child.returncode == -signal.SIGKILL
    assert _group(child) == []


@pytest.mark.slow
def test_only_json_objects_come_through_and_the_last_line_needs_no_newline():
    with Child("tests.child_programs", ["chatter"]) as child:
        assert list(child.messages()) == [{"n": 1}, {"n": 2}]
    assert child.returncode == 0


@pytest.mark.slow
def test_a_child_whose_parent_is_gone_ends_itself():
    child = Child("tests.child_programs", ["hang"])
    messages = child.messages()
    assert next(messages) == {"n": 1}
    assert child.process.stdin is not None
    child.process.stdin.close()  # what the parent's death does to the child's stdin
    deadline = time.monotonic() + 10
    while child.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child.alive()
    assert list(messages) == []
    assert child.returncode == -signal.SIGKILL  # it ended its own group
    assert _group(child) == []


@pytest.mark.slow
def test_kill_ends_a_running_child_and_its_copy():
    with Child("tests.child_programs", ["hang"]) as child:
        messages = child.messages()
        assert next(messages) == {"n": 1}
        assert _group(child) == [child.pid]
        child.kill()
        assert list(messages) == []
    assert child.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_background_work_runs_behind_the_server_in_its_own_autogroup():
    """Training and format conversions (``start_child(background=True)``): nice 10, and
    so is the autogroup of their session, where a nice value alone would weigh nothing."""
    with Child("tests.child_programs", ["background"]) as child:
        assert next(child.messages(deadline=time.monotonic() + 30)) == {"n": 1}
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == BACKGROUND_NICE
        group = _autogroup(child.pid)
        if group is None:
            # No autogroups in this kernel, or the child sits in a cgroup of its own,
            # where the kernel schedules by cgroup and prints no autogroup at all.
            pytest.skip("no scheduling autogroup applies here (its nice value is set)")
        assert group[-1] == str(BACKGROUND_NICE)
        mine = _autogroup(os.getpid())
        if mine is not None:  # the test runner may itself sit in a cgroup (CI)
            assert mine[0] != group[0]  # a group of its own
        child.kill()


def _autogroup(pid: int) -> list[str] | None:
    """The words of ``/proc/PID/autogroup`` ("/autogroup-7 nice 10"), or None where empty."""
    path = Path(f"/proc/{pid}/autogroup")
    words = path.read_text().split() if path.exists() else []
    return words or None


def test_background_threads_are_waited_for_at_exit_and_forgotten_once_done():
    """A thread compiling a model when the process exits would abort it from inside C++;
    ``start_background`` threads are joined at exit instead, and finished ones dropped."""
    import subprocess
    import sys

    from model_zoo import runtime

    program = (
        "import time\nfrom model_zoo import runtime\n"
        "runtime.start_background(lambda: (time.sleep(1.5), print('finished', flush=True)), 'x')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "finished\n"
    first = runtime.start_background(lambda: None, "quick")
    first.join()
    second = runtime.start_background(lambda: None, "quick")
    assert first not in runtime._BACKGROUND and second in runtime._BACKGROUND
    second.join()
