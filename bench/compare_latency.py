"""Five-model warm latency on one photo: the app's compiled path vs a model.predict loop.

Random weights (speed does not depend on weight values). Prints each model's best time for
both paths, load times and memory, and as its LAST line the speed-up ratio.

    python bench/compare_latency.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import psutil

from model_zoo.examples import get_example
from model_zoo.images import load_image, resize
from model_zoo.inference import compare, load_classifier
from model_zoo.registry import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    process = psutil.Process()
    photo = load_image(get_example("cat").read_bytes())
    classifiers = []
    for name in MODELS:
        start = time.perf_counter()
        classifiers.append(load_classifier(name, "random"))
        print(
            f"load {name:<13} {time.perf_counter() - start:6.1f} s  "
            f"RSS {process.memory_info().rss / 1e9:.2f} GB"
        )
    rss_loaded = process.memory_info().rss / 1e9
    peak_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

    # The baseline (docs/BASELINES.md): ``model.predict`` per model and request, on the same
    # resized pixels.
    inputs = {
        c.name: c.spec.preprocess_input(resize(photo, c.spec.input_size)[None]) for c in classifiers
    }
    for c in classifiers:  # warm both paths
        c.model.predict(inputs[c.name], verbose=0)
    compare(classifiers, [photo])

    app_best = {c.name: float("inf") for c in classifiers}
    base_best = dict(app_best)
    app_total = base_total = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        [result] = compare(classifiers, [photo])
        app_total = min(app_total, time.perf_counter() - start)
        for pred in result.predictions:
            app_best[pred.model] = min(app_best[pred.model], pred.ms / 1000)

        loop_start = time.perf_counter()
        for c in classifiers:
            start = time.perf_counter()
            x = c.spec.preprocess_input(resize(photo, c.spec.input_size)[None])
            c.model.predict(x, verbose=0)
            base_best[c.name] = min(base_best[c.name], time.perf_counter() - start)
        base_total = min(base_total, time.perf_counter() - loop_start)

    print(f"\n{'model':<13} {'app path':>9} {'predict':>9} {'ratio':>6}")
    for name in MODELS:
        print(
            f"{name:<13} {app_best[name] * 1000:7.0f} ms {base_best[name] * 1000:6.0f} ms "
            f"{base_best[name] / app_best[name]:6.2f}"
        )
    print(
        f"\nRSS with all five loaded: {rss_loaded:.2f} GB (peak while loading "
        f"{peak_loaded:.2f} GB); peak after the benchmark "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB"
    )
    print(
        f"five-model warm latency: {app_total:.2f} s vs predict loop {base_total:.2f} s, "
        f"ratio {base_total / app_total:.2f}"
    )


if __name__ == "__main__":
    main()
