"""Five-model warm latency on one photo: the app's engine (OpenVINO) vs its TensorFlow path.

Both paths load the same shared random weights (speed does not depend on weight values) and
run ``inference.compare`` on the same photo, batch 1, in one process. A small FMA probe in
the same run measures the CPU's peak (f32 with NumPy's BLAS, bf16 with OpenVINO), and each
path's arithmetic rate is printed as a fraction of it. RSS with the five models loaded is
measured for each engine alone, in a fresh child process. The engine's latency is also put
against the machine's floor for these models at batch 1: the larger of the weights' bytes
over the measured memory bandwidth (each image reads every weight once) and the FLOPs over
the measured peak (a larger product reaches more of the AMX tiles than 2048²). The LAST
line is the speed-up.

    python bench/compare_latency.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from model_zoo.compare.inference import Classifier, compare, load_classifiers
from model_zoo.engine import EngineSettings, engine_settings
from model_zoo.examples import get_example
from model_zoo.images import load_image
from model_zoo.registry import MODELS


def model_gflops(model: object) -> float:
    """Multiply-adds of one image through the convolutions and dense layers, ×2, in GFLOP."""
    macs = 0
    for layer in model.layers:  # type: ignore[attr-defined]
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense"):
            continue
        out = layer.output.shape
        positions = int(np.prod(out[1:-1])) if len(out) > 2 else 1
        if kind == "Dense":
            macs += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif kind in ("Conv2D", "DepthwiseConv2D"):
            macs += positions * int(np.prod(layer.kernel.shape))
        else:
            macs += positions * int(np.prod(layer.depthwise_kernel.shape))
            macs += positions * int(np.prod(layer.pointwise_kernel.shape))
    return 2 * macs / 1e9


def peak_f32(n: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of a large f32 matrix product (BLAS, every core): the FMA units' peak."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def peak_bf16(n: int = 2048, repeats: int = 7) -> float | None:
    """The same product compiled by OpenVINO with bf16 precision (None without OpenVINO)."""
    try:
        import openvino as ov
        import openvino.opset13 as ops
    except ImportError:
        return None
    a = ops.parameter([n, n], np.float32)
    b = ops.constant(np.random.default_rng(1).standard_normal((n, n), dtype=np.float32))
    model = ov.Model([ops.matmul(a, b, False, False)], [a])
    compiled = ov.Core().compile_model(
        model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16"}
    )
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    request.infer(x)
    best = min(_timed(lambda: request.infer(x)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def peak_bf16_best(repeats: int = 5) -> float | None:
    """The best bf16 rate over matrix sizes (AMX tiles need large products to fill)."""
    rates = [peak_bf16(n, repeats) for n in (2048, 4096)]
    return max((r for r in rates if r is not None), default=None)


def bandwidth(gigabytes: float = 1.0, repeats: int = 5) -> float:
    """Bytes per second read from memory by every core at once (a sum over each half)."""
    import threading

    data = np.ones(int(gigabytes * 1e9) // 4, np.float32)
    halves = np.array_split(data, os.cpu_count() or 1)

    def once() -> None:
        threads = [threading.Thread(target=np.add.reduce, args=(h,)) for h in halves]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    once()
    return data.nbytes / min(_timed(once) for _ in range(repeats))


def weights_bytes(classifiers: list[Classifier], precision_bytes: int) -> float:
    return sum(c.keras_model().count_params() for c in classifiers) * precision_bytes


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def rss_of_five(engine: str) -> float:
    """RSS in GB of a fresh process holding the five models, warm, on ``engine``."""
    code = (
        "import json, psutil\n"
        "from model_zoo.engine import engine_settings\n"
        "from model_zoo.examples import get_example\n"
        "from model_zoo.images import load_image\n"
        "from model_zoo.compare.inference import compare, load_classifiers\n"
        "from model_zoo.registry import MODELS\n"
        f"models = load_classifiers(list(MODELS), 'random', engine_settings({engine!r}))\n"
        "compare(models, [load_image(get_example('cat').read_bytes())])\n"
        "print(json.dumps(psutil.Process().memory_info().rss / 1e9))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def five_model_seconds(classifiers: list[Classifier], photo: np.ndarray, repeats: int) -> float:
    compare(classifiers, [photo])
    return statistics.median(_timed(lambda: compare(classifiers, [photo])) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    photo = load_image(get_example("cat").read_bytes())
    names = list(MODELS)
    baseline = load_classifiers(names, "random", EngineSettings("tensorflow"))
    engine = load_classifiers(names, "random", engine_settings())
    label = engine[0].engine_label
    gflops = sum(model_gflops(c.keras_model()) for c in baseline)

    f32_peak, bf16_peak = peak_f32(), peak_bf16_best()
    memory_rate = bandwidth()
    # Alternate the two paths so that both see the same machine noise.
    base_times, engine_times = [], []
    for _ in range(3):
        base_times.append(five_model_seconds(baseline, photo, args.repeats))
        engine_times.append(five_model_seconds(engine, photo, args.repeats))
    base, fast = min(base_times), min(engine_times)

    print(f"five models: {gflops:.1f} GFLOP per image")
    peak_text = f"f32 peak {f32_peak:.0f} GFLOP/s"
    if bf16_peak is not None:
        peak_text += f", bf16 peak {bf16_peak:.0f} GFLOP/s"
    print(f"FMA probe (2048² matrix product): {peak_text}")
    for name, seconds in (("TensorFlow", base), (label, fast)):
        rate = gflops / seconds
        peak = bf16_peak if "bf16" in name and bf16_peak else f32_peak
        print(
            f"{name:<15} {seconds * 1000:6.0f} ms  {rate:6.0f} GFLOP/s  "
            f"{rate / peak:5.0%} of its peak"
        )
    bf16 = "bf16" in label and bf16_peak is not None
    weights = weights_bytes(baseline, 2 if bf16 else 4)
    peak = bf16_peak if bf16 and bf16_peak else f32_peak
    floor = max(weights / memory_rate, gflops / peak)
    print(
        f"floor at batch 1: weights {weights / 1e6:.0f} MB / {memory_rate / 1e9:.1f} GB/s = "
        f"{1000 * weights / memory_rate:.1f} ms; {gflops:.1f} GFLOP / {peak:.0f} GFLOP/s = "
        f"{1000 * gflops / peak:.1f} ms; {label} takes {fast / floor:.1f}x the floor "
        f"({gflops / fast / peak:.0%} of the measured peak) and "
        f"{fast / (weights / memory_rate):.1f}x the weights' reading time alone"
    )
    print(
        f"RSS, five models loaded and warm: TensorFlow {rss_of_five('tensorflow'):.2f} GB, "
        f"{label} {rss_of_five('auto'):.2f} GB"
    )
    print(
        f"five-model warm latency: {label} {fast:.3f} s vs TensorFlow {base:.3f} s, "
        f"ratio {base / fast:.2f}"
    )


if __name__ == "__main__":
    main()
