"""TensorFlow in the children with ``TF_SET_ONEDNN_FPMATH_MODE=BF16`` against plain f32.

Where TensorFlow still runs (training through the backbone with augmentation or unfrozen
layers, the test pass, exports), oneDNN can do f32 matrix products in bf16 on CPUs with
native bf16. Each mode runs in a fresh process (the variable is read when TensorFlow
starts): ResNet50, random weights, batch 16 at 224², timed over ``--steps``

- inference (the test pass) and
- a training step with the top 20 layers unfrozen (``--unfreeze``),

and the largest difference of the softmax outputs between the two modes is printed.

    python bench/tf_fpmath.py [--steps 6]

The LAST line is the training-step speed-up of BF16 over f32.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16


def measure(steps: int) -> dict[str, object]:
    """In this process: seconds per inference batch and per training step, and outputs."""
    import time

    import keras
    import numpy as np

    from model_zoo.keras_models import build_keras_model
    from model_zoo.registry import get_spec
    from model_zoo.weights import WeightsSource

    model = build_keras_model(get_spec("resnet50"), WeightsSource("random"))
    x = np.random.default_rng(0).uniform(0, 255, (BATCH, 224, 224, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(BATCH) % 1000, 1000)
    out = model.predict(x, verbose=0)  # warm-up and the outputs compared
    start = time.perf_counter()
    for _ in range(steps):
        model.predict(x, verbose=0)
    infer = (time.perf_counter() - start) / steps
    for layer in model.layers[:-20]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy")
    model.train_on_batch(x, y)  # warm-up (traces the step)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train = (time.perf_counter() - start) / steps
    return {"infer": infer, "train": train, "out": out[:4].tolist()}


def run(mode: str | None, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_SET_ONEDNN_FPMATH_MODE", None)
    if mode:
        env["TF_SET_ONEDNN_FPMATH_MODE"] = mode
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--steps", str(steps)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.steps)))
        return
    import numpy as np

    from model_zoo.engine_choice import native_bf16

    print(f"native bf16 on this CPU: {native_bf16()}")
    f32 = run(None, args.steps)
    bf16 = run("BF16", args.steps)
    diff = float(np.abs(np.array(f32["out"]) - np.array(bf16["out"])).max())
    print(f"inference, batch {BATCH}: f32 {f32['infer']:.3f} s, BF16 {bf16['infer']:.3f} s")
    print(f"training step:     f32 {f32['train']:.3f} s, BF16 {bf16['train']:.3f} s")
    print(f"largest softmax difference BF16 vs f32: {diff:.2e}")
    print(f"inference speed-up {f32['infer'] / bf16['infer']:.2f}")
    print(f"training-step speed-up of BF16 over f32: {f32['train'] / bf16['train']:.2f}")


if __name__ == "__main__":
    main()
