"""The app served by ``streamlit run`` on a free local port, for the browser tests and the
benchmarks that drive it (``bench/load_test.py``, ``bench/cold_start.py``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(log: Path, chars: int = 2500) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no server log)"


def start_app(
    app_dir: Path, env: dict[str, str], log: Path, timeout: float = 120, poll: float = 0.5
) -> tuple[subprocess.Popen, str]:
    """Starts ``streamlit run app.py`` in ``app_dir`` and waits until it answers its health
    check; returns the process and the app's URL.

    Raises:
        RuntimeError: the server exited or did not answer within ``timeout`` seconds (with
            the tail of its log).
    """
    port = free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none"],
            cwd=app_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return server, url
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            stop_app(server)
            raise RuntimeError(f"streamlit did not start:\n{tail(log)}")
        time.sleep(poll)


def stop_app(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
