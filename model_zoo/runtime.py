"""TensorFlow set-up that must happen once, before TensorFlow is first imported."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

DEBUG_VAR = "MODEL_ZOO_DEBUG"


def available_cpus() -> int:
    """CPUs this process may really use: affinity and the cgroup quota, not the host's count."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


DATA_VAR = "MODEL_ZOO_DATA"


def keras_home() -> Path:
    """Keras' home folder: ``$KERAS_HOME``; else ``.keras`` on the persistent volume named by
    ``$MODEL_ZOO_DATA`` when it is a writable folder (``/data`` on Hugging Face Spaces, where
    the rest of the disk is wiped at every restart); else ``~/.keras``."""
    configured = os.environ.get("KERAS_HOME")
    if configured:
        return Path(configured).expanduser()
    data = os.environ.get(DATA_VAR)
    if data and os.path.isdir(data) and os.access(data, os.W_OK):
        return Path(data) / ".keras"
    return Path.home() / ".keras"


def quiet_tensorflow() -> None:
    """Keeps TensorFlow's C++ info lines off stderr (the CLI promises one-line errors), and
    points Keras at ``keras_home()`` before it reads ``$KERAS_HOME``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_HOME", str(keras_home()))
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _saved_stderr() -> int | None:
    """A copy of file descriptor 2 to restore later; None with ``MODEL_ZOO_DEBUG=1`` (keep
    everything) or without a real stderr (embedded, closed)."""
    if os.environ.get(DEBUG_VAR) or not hasattr(os, "dup2"):
        return None
    try:
        sys.stderr.flush()
        return os.dup(2)
    except (OSError, ValueError, AttributeError):
        return None


@contextlib.contextmanager
def only_our_own_stderr() -> Iterator[None]:
    """Sends native libraries' stderr chatter (TensorFlow's absl and oneDNN start-up lines,
    libtiff's decoder warnings), Python warnings and libraries' unhandled log records (Pillow's
    "More samples per pixel than can be decoded") nowhere, for the CLI's one-line promise.

    ``sys.stderr`` keeps writing to the real stderr; only file descriptor 2, which C code
    writes to directly, goes to /dev/null. ``MODEL_ZOO_DEBUG=1`` keeps everything.
    """
    saved = _saved_stderr()
    if saved is None:
        yield
        return
    real = os.fdopen(os.dup(saved), "w", buffering=1, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    previous, last_resort = sys.stderr, logging.lastResort
    os.dup2(devnull, 2)
    sys.stderr = real
    # logging's last resort writes records nobody handles to sys.stderr (which is real here)
    logging.lastResort = logging.NullHandler()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        real.flush()
        os.dup2(saved, 2)
        sys.stderr, logging.lastResort = previous, last_resort
        real.close()
        os.close(saved)
        os.close(devnull)


_IMPORT_LOCK = threading.Lock()


# What TensorFlow's native libraries print on fd 2 while they load, before absl's logging
# reads TF_CPP_MIN_LOG_LEVEL: absl's notice and its INFO lines ("oneDNN custom operations
# are on", which CPU features the binary uses). Info at start-up, not warnings.
_START_UP_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|I\d{4} )"
)


@contextlib.contextmanager
def _without_start_up_noise() -> Iterator[None]:
    """Passes fd 2 through a pipe that drops ``_START_UP_NOISE`` lines and forwards every
    other line (another thread's log record, a real error) as it comes."""
    saved = _saved_stderr()
    if saved is None:
        yield
        return
    read_end, write_end = os.pipe()

    def forward() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not _START_UP_NOISE.match(line):
                    os.write(saved, line)

    relay = threading.Thread(target=forward, name="model-zoo-stderr", daemon=True)
    relay.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer closes: the relay ends
        relay.join(timeout=5)
        os.close(saved)


@cache
def _import_tensorflow() -> ModuleType:
    quiet_tensorflow()
    with _without_start_up_noise():
        import tensorflow as tf

    cpus = available_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, cpus))
    except RuntimeError:
        pass  # TensorFlow was already initialised by someone else; keep its settings.
    return tf


def tensorflow() -> ModuleType:
    """Imports TensorFlow once, with thread pools sized to this container's CPUs.

    Thread-safe: two threads importing TensorFlow at once (a training thread and a page)
    can otherwise see a half-initialised module.
    """
    with _IMPORT_LOCK:
        return _import_tensorflow()


def keras() -> ModuleType:
    """Imports Keras (on TensorFlow) under the same lock; use it for every lazy import."""
    with _IMPORT_LOCK:
        _import_tensorflow()
        import keras as keras_module

        return keras_module


def release_free_memory() -> None:
    """Hands freed heap pages back to the OS (glibc only; a no-op elsewhere).

    Building a model allocates its random initial weights before real ones replace them;
    without this, those temporaries stay in the process's resident memory.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


MADV_DONTNEED = 4  # Linux


def drop_mapped_pages(folder: Path) -> int:
    """Drops this process's resident pages of read-only file mappings under ``folder``
    (Linux; a no-op elsewhere); returns the bytes of mappings advised.

    OpenVINO maps an IR's weights file read-only and keeps it mapped while the compiled
    model lives, although the CPU plugin has repacked the weights into buffers of its own:
    the five models' files held 0.71 GB of the process's RSS that were never read again.
    The pages stay mapped: whatever reads one again faults it back in from the file.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        maps = Path("/proc/self/maps").read_text().splitlines()
    except (OSError, AttributeError):
        return 0
    prefix = str(folder.resolve()) + os.sep
    advised = 0
    for line in maps:
        parts = line.split(maxsplit=5)
        # Only mappings that cannot have been written to: nothing private is thrown away.
        if len(parts) < 6 or "w" in parts[1] or not parts[5].startswith(prefix):
            continue
        low, high = (int(v, 16) for v in parts[0].split("-"))
        if libc.madvise(low, high - low, MADV_DONTNEED) == 0:
            advised += high - low
    return advised


_BACKGROUND: set[threading.Thread] = set()
_BACKGROUND_LOCK = threading.Lock()
BACKGROUND_JOIN_SECONDS = 120.0


def start_background(target: Callable[[], object], name: str) -> threading.Thread:
    """Starts ``target`` in a daemon thread that the process waits for (up to
    ``BACKGROUND_JOIN_SECONDS``) when it exits: such threads compile OpenVINO models, and a
    daemon thread stopped inside C++ at exit aborts the process ("FATAL: exception not
    rethrown"), where waiting costs seconds at most."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with _BACKGROUND_LOCK:
        _BACKGROUND.difference_update([t for t in _BACKGROUND if not t.is_alive()])
        _BACKGROUND.add(thread)
    thread.start()
    return thread


@atexit.register
def _join_background() -> None:
    with _BACKGROUND_LOCK:
        threads = list(_BACKGROUND)
    for thread in threads:
        thread.join(BACKGROUND_JOIN_SECONDS)
