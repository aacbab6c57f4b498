"""Predictions for a folder: the batched engine path of ``model-zoo predict`` vs one photo at
a time through ``model.predict``.

A fine-tuned model (ResNet50 + gap at 224, random weights: speed does not depend on them)
and a zip of generated photos (384×288 JPEGs). Both sides decode every photo from the zip
with the same safe reader and resize it the same way. The baseline calls
``model.predict(x[None])`` per photo, as a first script would. ``predict_photos`` sends
batches of 32 to the engine ``model-zoo predict`` uses: OpenVINO (converted once per model
and cached by its checksum; the first run pays for the conversion, shown apart), else
Keras' ``predict_on_batch``. Prints images/s for each and, as its LAST line, the ratio with
the conversion cached.

    python bench/batch_predict.py [--photos 200] [--backbone resnet50]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from leaderboard_speed import dataset_zip

from model_zoo.datasets import zip_photos
from model_zoo.finetune.model import assemble
from model_zoo.finetune.settings import TrainConfig
from model_zoo.images import resize
from model_zoo.predict import Exported, predict_photos
from model_zoo.weights import WeightsSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--backbone", default="resnet50")
    args = parser.parse_args()
    config = TrainConfig(backbone=args.backbone, head="gap")
    model = assemble(config, WeightsSource("random"), 4).model
    data = dataset_zip(4, -(-args.photos // 4))
    classes = ("a", "b", "c", "d")
    os.environ["MODEL_ZOO_CACHE"] = tempfile.mkdtemp(prefix="batch-predict-")
    exported = Exported(model, classes, config.size, 1.0, 0.5, digest="bench" + "0" * 59)
    warm = np.zeros((1, config.size, config.size, 3), np.float32)
    model.predict(warm, verbose=0)  # both paths traced before timing
    model.predict_on_batch(np.zeros((32, config.size, config.size, 3), np.float32))

    start = time.perf_counter()
    one_by_one = []
    for _, image, _ in zip_photos(data):
        assert image is not None
        x = resize(image, config.size).astype(np.float32)[None]
        one_by_one.append(model.predict(x, verbose=0)[0])
    single = time.perf_counter() - start

    start = time.perf_counter()
    predict_photos(exported, zip_photos(data))  # converts the model once
    first = time.perf_counter() - start
    start = time.perf_counter()
    rows = predict_photos(exported, zip_photos(data))
    batched = time.perf_counter() - start
    keras_path = dataclasses.replace(exported, digest="")
    start = time.perf_counter()
    predict_photos(keras_path, zip_photos(data))
    keras_batched = time.perf_counter() - start

    n = len(rows)
    agree = np.mean(
        [r.top[0][0] == classes[int(p.argmax())] for r, p in zip(rows, one_by_one, strict=True)]
    )
    print(f"{n} photos, {config.spec.display_name} + gap at {config.size}, decoding included")
    print(f"one at a time (model.predict): {single:6.1f} s, {n / single:6.1f} images/s")
    print(
        f"batched, Keras predict_on_batch: {keras_batched:6.1f} s, "
        f"{n / keras_batched:6.1f} images/s (ratio {single / keras_batched:.2f})"
    )
    print(
        f"batched, {exported.engine} (cached): {batched:6.1f} s, {n / batched:6.1f} images/s; "
        f"first run with the conversion {first:.1f} s (ratio {single / first:.2f})"
    )
    print(f"same top-1 on {agree:.0%} of the photos")
    print(f"batch predict, {n} photos: ratio {single / batched:.2f}")


if __name__ == "__main__":
    main()
