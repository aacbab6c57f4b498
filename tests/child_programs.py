"""Small child programs for the tests of ``model_zoo.children``:
``python -m tests.child_programs MODE``.

- ``fork_then_exit``: prints a line, has a thread fork a copy that sleeps and keeps stdout
  open (a library's ``fork()`` without ``exec``), prints another, and exits with status 3.
- ``hang``: prints a line, then sleeps until it is killed.
- ``chatter``: a library's non-JSON lines between ours, then a last line without a newline.
- ``background``: as ``hang``, started as background work (``start_child(background=True)``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from model_zoo.children import start_child


def fork_a_sleeper() -> None:
    """Forks, from a thread of its own, a copy that sleeps forever holding the pipes."""

    def fork() -> None:
        if os.fork() == 0:  # the copy: one thread, never ending by itself
            while True:
                time.sleep(3600)

    thread = threading.Thread(target=fork)
    thread.start()
    thread.join()


def say(**message: object) -> None:
    print(json.dumps(message), flush=True)


def main(mode: str) -> int:
    start_child(background=mode == "background")
    if mode == "fork_then_exit":
        say(n=1)
        fork_a_sleeper()
        say(n=2)
        sys.stdout.flush()
        os._exit(3)
    if mode == "chatter":
        print("a library says hello", flush=True)
        say(n=1)
        print("[1, 2]")  # JSON, but not an object
        sys.stdout.write(json.dumps({"n": 2}))
        return 0
    say(n=1)
    while True:  # "hang", "background"
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
