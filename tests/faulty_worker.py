"""A training child that fails on purpose, for the job tests (``jobs.WORKER_MODULE``).

``MODEL_ZOO_TEST_FAULT`` says how, so that each fault happens on any CPU, whatever the
allocator does under a memory limit:

- ``fork_segv``: one of its threads forks a copy of the process that sleeps (as a library's
  ``fork()`` without ``exec`` does), which keeps stdout, the progress pipe, open; then the
  process dies of SIGSEGV.
- ``hang``: forks a sleeping copy as above, reports progress, then never ends and never
  reads Stop (only a kill ends it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from model_zoo.children import start_child
from model_zoo.finetune.worker import REQUEST_FILE
from tests.child_programs import fork_a_sleeper


def main(argv: list[str]) -> int:
    request = json.loads((Path(argv[0]) / REQUEST_FILE).read_text())
    start_child(request.get("memory_limit"))
    fault = os.environ["MODEL_ZOO_TEST_FAULT"]
    # The copy first, then the report: whoever hears "building" finds both processes (the
    # other order raced the tests that count them).
    fork_a_sleeper()
    print(json.dumps({"type": "progress", "phase": "building", "done": 0, "total": 1}), flush=True)
    if fault == "fork_segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    while True:  # "hang"
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
