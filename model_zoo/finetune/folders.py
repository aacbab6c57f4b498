"""Each job's own temporary folder, marked with its server's process id, and the sweep at
start-up that removes the folders (and any process still running from them) of a server
that was killed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil

JOB_PREFIX = "model_zoo_job_"
_OWNER_FILE = "owner.pid"


def new_job_folder() -> tempfile.TemporaryDirectory:
    """A job's own temporary folder, marked with this process's id so that a later start-up
    can tell it from the folders of a process that was killed (``sweep_job_folders``)."""
    folder = tempfile.TemporaryDirectory(prefix=JOB_PREFIX)
    (Path(folder.name) / _OWNER_FILE).write_text(str(os.getpid()))
    return folder


def sweep_job_folders(parent: Path | None = None) -> list[Path]:
    """Removes job folders whose process is gone (a crash or SIGKILL skips the clean-up);
    returns what was removed. Folders of live processes, this one included, are kept."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{JOB_PREFIX}*"):
        try:
            owner = int((folder / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = None  # from before owners were written, or half made: stale if old
            if time.time() - folder.stat().st_mtime < 24 * 3600:
                continue
        if owner is not None and _alive(owner):
            continue
        _end_processes_in(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _end_processes_in(folder: Path) -> None:
    """Kills what a killed server's runs left behind: this user's processes whose command
    line names a path inside ``folder`` (a worker, or a copy one of its threads forked)."""
    prefix = str(folder) + os.sep
    for process in psutil.process_iter(["cmdline", "uids"]):
        try:
            mine = process.info["uids"] is not None and process.info["uids"].real == os.getuid()
            if mine and any(arg.startswith(prefix) for arg in process.info["cmdline"] or ()):
                process.kill()
        except (psutil.Error, OSError):
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
