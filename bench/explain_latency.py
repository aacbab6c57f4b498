"""The cost of explaining all five models (Grad-CAM of each one's top-1) relative to plain
inference of all five, on one photo, warm, best of several. Random weights (speed does not
depend on weight values). On OpenVINO, Grad-CAM is the same forward pass plus a small
backward graph; on TensorFlow (``MODEL_ZOO_ENGINE=tensorflow``) a GradientTape. The LAST
line is the ratio; the goal is at most 1.3.

    python bench/explain_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from model_zoo.compare.explain import explain
from model_zoo.compare.inference import compare, load_classifier
from model_zoo.examples import get_example
from model_zoo.images import load_image
from model_zoo.registry import MODELS


def best_of(repeats: int, work) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    photo = load_image(get_example("cat").read_bytes())
    classifiers = [load_classifier(name, "random") for name in MODELS]
    [result] = compare(classifiers, [photo])
    top1 = {p.model: p.top[0].index for p in result.predictions}
    start = time.perf_counter()
    for c in classifiers:  # the first Explain's set-up, once per process, as the app's
        explain(c, photo, top1[c.name])
    first = time.perf_counter() - start

    per_model = {}
    for c in classifiers:
        predict = best_of(args.repeats, lambda c=c: c.classify([photo]))
        explained = best_of(args.repeats, lambda c=c: explain(c, photo, top1[c.name]))
        per_model[c.name] = (predict, explained)
        print(
            f"{c.name:<13} predict {predict * 1000:6.0f} ms  explain {explained * 1000:6.0f} ms"
            f"  ratio {explained / predict:.2f}"
        )
    predict_all = best_of(args.repeats, lambda: compare(classifiers, [photo]))
    explain_all = best_of(
        args.repeats, lambda: [explain(c, photo, top1[c.name]) for c in classifiers]
    )
    print(f"all five: predict {predict_all:.2f} s, explain {explain_all:.2f} s")
    print(
        f"the first Explain of all five ({classifiers[0].engine_label}; set-up once per process): "
        f"{first:.1f} s, {first / explain_all:.0f}x a warm one"
    )
    print(f"explain/predict ratio {explain_all / predict_all:.2f}")


if __name__ == "__main__":
    main()
