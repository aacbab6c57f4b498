"""Child processes under one set of rules: training, format conversions, OpenVINO conversion.

A child runs ``python -m MODULE`` in a session of its own and speaks JSON, one object per line,
on stdout. The parent goes by the child's exit status, never by end-of-file alone: a library
thread may ``fork()`` without ``exec``, and that copy keeps the pipe open after the child has
died. So the parent waits for the exit, ends the child's whole process group, reads what is
left for a few seconds, and is done. The group also ends on a deadline, on ``kill()``, and when
this process exits; the child ends its own group when its stdin closes (the parent is gone).

The child's side (``start_child``) sets its memory limit first thing, before TensorFlow
reserves anything. A death is read by ``ran_out_of_memory`` and ``exit_text``: under an
address-space limit SIGSEGV, SIGBUS and SIGABRT usually mean a failed allocation (which CPU
and which library decide how it shows), SIGKILL comes from outside.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from model_zoo.runtime import DEBUG_VAR  # kept: children's stderr too

DRAIN_SECONDS = 3.0  # after the exit: what is still buffered in the pipe
POLL_SECONDS = 0.2
# Words in a dying process's last lines that mean it ran out of memory.
MEMORY_SIGNS = (
    "MemoryError",
    "bad_alloc",
    "Cannot allocate memory",
    "ResourceExhausted",
    "OOM when allocating",
    "out of memory",
    "failed to map segment",  # a shared library that no longer fits under the limit
)
# How a failed allocation under RLIMIT_AS can end a process instead of raising.
MEMORY_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT})

_LIVE: weakref.WeakSet[Child] = weakref.WeakSet()


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child: the package importable, TensorFlow's C++ info
    lines off, plus ``extra``."""
    package_parent = str(Path(__file__).resolve().parents[1])
    existing = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, existing])),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        **extra,
    }


def memory_limit_from_env(var: str, default_gb: float) -> int | None:
    """Bytes of address space from ``$var`` in GB (``default_gb`` when unset or not a number;
    0 or less means no limit)."""
    try:
        gigabytes = float(os.environ.get(var, default_gb))
    except ValueError:
        gigabytes = default_gb
    return int(gigabytes * 1e9) if gigabytes > 0 else None


def error_line(err: BaseException, *, with_type: bool = True, limit: int = 300) -> str:
    """An exception as one line: ``"Type: first line of the message"`` (or only the message,
    or only the type when there is no message), at most ``limit`` characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if with_type:
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return (text or type(err).__name__)[:limit]


def is_memory_error(err: BaseException, memory_limit: int | None = None) -> bool:
    """Whether an exception most likely comes from a failed allocation: ``MemoryError``,
    memory words in its message, or under a limit a C extension's SystemError ("error return
    without exception set": its allocation failed and it could not say so)."""
    if isinstance(err, MemoryError) or (memory_limit and isinstance(err, SystemError)):
        return True
    return any(sign in f"{type(err).__name__} {err}" for sign in MEMORY_SIGNS)


def ran_out_of_memory(code: int, memory_limit: int | None, tail: str = "") -> bool:
    """Whether a child that ended with ``code`` (negative: the signal) most likely ran out of
    memory, from its signal under a limit or from the last lines it wrote (``tail``)."""
    if code < 0:
        return bool(memory_limit) and -code in MEMORY_SIGNALS
    return code != 0 and any(sign in tail for sign in MEMORY_SIGNS)


def exit_text(code: int) -> str:
    """How a child ended, to follow its name: "was killed (…)", "crashed (signal 11, …)"."""
    if code == -signal.SIGKILL:
        return (
            "was killed (signal 9, SIGKILL, from outside the process: the machine may be out "
            "of memory)"
        )
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        return f"crashed (signal {-code}, {name})"
    return f"ended unexpectedly (exit status {code})"


class Child:
    """``python -m module args…`` in its own session, read as JSON lines by exit status.

    Args:
        module: The child's module (it calls ``start_child`` first).
        args: Its arguments.
        env: Its environment (default ``child_env()``).
        log: A file for its stderr; without one stderr is dropped, unless
            ``$MODEL_ZOO_DEBUG`` is set (then it is this process's).
    """

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.log = log
        self.timed_out = False
        self._reaped = threading.Lock()  # held by whoever reaps; kill() then stands down
        self._done = False
        stderr: IO[bytes] | int | None = subprocess.DEVNULL
        if os.environ.get(DEBUG_VAR):
            stderr = None
        log_file = open(log, "ab") if log is not None else None  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file if log_file is not None else stderr,
                env=env if env is not None else child_env(),
                start_new_session=True,  # its own group: ended as one; no Ctrl-C of ours
            )
        finally:
            if log_file is not None:
                log_file.close()
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped (negative: the signal), else None."""
        return self.process.returncode

    def alive(self) -> bool:
        """Whether the child itself still runs (without reaping it: its group stays named)."""
        if self._done or self.process.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def send(self, line: str) -> None:
        """Writes one line to the child's stdin; nothing when it is ending already."""
        if self.process.stdin is None or not self.alive():
            return
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        """Ends the child's whole process group at once (forked copies included)."""
        with self._reaped:  # never signal a group id that a reaped child may have freed
            if not self._done:
                _kill_group(self.pid)

    def messages(self, deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """The JSON objects the child prints, until it has exited and its pipe is drained.

        Args:
            deadline: A ``time.monotonic()`` time; past it the group is killed and
                ``timed_out`` set.

        Yields:
            Each line that is a JSON object (other lines are a library's chatter).
        """
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        os.set_blocking(fd, False)
        pending, exited_at, eof = b"", None, False
        while not eof:
            now = time.monotonic()
            if exited_at is None and not self.alive():
                exited_at = now
                self.kill()  # whatever it forked ends too, and with it the pipe's writers
            elif exited_at is None and deadline is not None and now > deadline:
                self.timed_out = True
                self.kill()
            if exited_at is not None and now - exited_at > DRAIN_SECONDS:
                break
            chunk = _read_some(fd, POLL_SECONDS)
            if chunk == b"":
                eof = True
            elif chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from _objects(lines)
            if eof and exited_at is None:  # it closed stdout but lives: wait for its exit
                eof = False
                time.sleep(POLL_SECONDS)
        yield from _objects([pending])
        self.wait()

    def wait(self) -> int:
        """Ends the child's group and reaps the child; returns its exit status."""
        with self._reaped:
            if not self._done:
                # Before reaping: until then the dead leader keeps the group's id reserved.
                _kill_group(self.pid)
                self.process.wait()
                self._done = True
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        _LIVE.discard(self)
        assert self.process.returncode is not None
        return self.process.returncode

    def tail(self, size: int = 20_000) -> str:
        """The last ``size`` bytes of the child's stderr log ("" without one)."""
        if self.log is None:
            return ""
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - size))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_some(fd: int, timeout: float) -> bytes | None:
    """Up to 64 KiB from ``fd``: b"" at end-of-file, None when nothing came in ``timeout``."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None


def _objects(lines: list[bytes]) -> Iterator[dict[str, Any]]:
    for raw in lines:
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if isinstance(message, dict):
            yield message


@atexit.register
def _end_all() -> None:
    """No child outlives this process's normal exit (a server shutting down)."""
    for child in list(_LIVE):
        child.kill()


# --- the child's side --------------------------------------------------------------------


BACKGROUND_NICE = 10


def lower_priority(nice: int = BACKGROUND_NICE) -> None:
    """Puts this process behind interactive work: its nice value, and its scheduling
    autogroup's (Linux). A child in a session of its own is in an autogroup of its own,
    where its nice value alone weighs nothing against the server's group; the group's does.
    """
    with contextlib.suppress(OSError):
        os.nice(max(0, nice - os.nice(0)))
    with contextlib.suppress(OSError):  # no autogroups (kernel option off, not Linux)
        Path("/proc/self/autogroup").write_text(str(nice))


def start_child(
    memory_limit: int | None = None,
    on_line: Callable[[str], None] | None = None,
    background: bool = False,
) -> None:
    """Call first in a child: sets its address-space limit, lowers its priority if it is
    ``background`` work (``lower_priority``), and watches stdin in a thread (``on_line``
    hears each line); when stdin closes, the parent is gone and the child ends its own
    process group."""
    if memory_limit:  # before TensorFlow reserves anything
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    if background:
        lower_priority()
    threading.Thread(
        target=_follow_parent, args=(on_line,), name="model-zoo-parent", daemon=True
    ).start()


def _follow_parent(on_line: Callable[[str], None] | None) -> None:
    for line in sys.stdin:
        if on_line is not None:
            on_line(line.strip())
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    if os.getpgid(0) == os.getpid():  # a group of its own (``Child``): end all of it
        os.killpg(0, signal.SIGKILL)
    os._exit(1)
