"""A training job while the Fine-tune page polls it once a second, as in the app's server.

After every script run (each poll of the live panel), Streamlit calls
``keras.backend.clear_session()`` and a full garbage collection. With the five Compare models
in memory both hold the GIL for about half a second; when training was a thread of the
server it starved (ratio 1.60). ``ui/models.py`` turns that off, and training now runs in a
child process, where the cleanup only competes for the CPU. This runs the same job twice
with the five models loaded here: (a) polled with Streamlit's own after-run cleanup, (b)
polled without it.
Random weights; the LAST line is the speed-up.

    python bench/training_while_polled.py [--backbone resnet50] [--per-class 10]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from streamlit.runtime.scriptrunner import script_runner

from bench.finetune_speed import generated_zip
from model_zoo.compare.inference import load_classifier
from model_zoo.datasets import extract_dataset
from model_zoo.finetune.features import FEATURES
from model_zoo.finetune.jobs import TrainingJob
from model_zoo.finetune.settings import TrainConfig
from model_zoo.registry import MODELS
from model_zoo.weights import weights_source

# Streamlit's own cleanup, kept before anything could replace it.
STREAMLIT_CLEANUP = script_runner._clean_problem_modules


def streamlit_after_run() -> None:
    STREAMLIT_CLEANUP()
    gc.collect(2)  # runner.postScriptGC, on by default


def timed_run(dataset, config: TrainConfig, after_poll) -> float:
    """Seconds from start to result, polled every second like the live panel."""
    FEATURES.clear()  # both runs do the feature pass
    start = time.perf_counter()
    job = TrainingJob.start(dataset, config, weights_source("random"))
    done = threading.Event()

    def poll() -> None:
        while not done.wait(1.0):
            job.snapshot()
            after_poll()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    job.join()
    done.set()
    poller.join()
    seconds = time.perf_counter() - start
    snap = job.snapshot()
    if snap.result is None:
        raise SystemExit(f"training did not finish: {snap.error}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50", choices=sorted(MODELS))
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    loaded = [load_classifier(name, "random") for name in MODELS]  # as after Compare
    t = time.perf_counter()
    streamlit_after_run()
    print(
        f"one Streamlit after-run cleanup with {len(loaded)} models loaded: "
        f"{time.perf_counter() - t:.2f} s"
    )

    folder = tempfile.TemporaryDirectory(prefix="model_zoo_bench_")
    dataset = extract_dataset(generated_zip(3, args.per_class, 64), Path(folder.name))
    config = TrainConfig(backbone=args.backbone, epochs=args.epochs, early_stopping=False)
    timed_run(dataset, config, lambda: None)  # warm-up: imports, first tracing
    ours = timed_run(dataset, config, lambda: None)
    theirs = timed_run(dataset, config, streamlit_after_run)
    print(
        f"training while polled: {ours:.1f} s without Streamlit's after-run cleanup vs "
        f"{theirs:.1f} s with it, ratio {theirs / ours:.2f}"
    )


if __name__ == "__main__":
    main()
