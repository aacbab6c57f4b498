"""Ten epochs of transfer learning, two ways, on the same data, backbone and split.

(a) the textbook way (docs/BASELINES.md): a frozen backbone inside the model, ``model.fit``
    over the images every epoch; (b) this project's path: one backbone pass, cached
    features, ten head epochs.
Random weights (speed does not depend on weight values); the LAST line is the speed-up.

    python bench/finetune_speed.py [--backbone resnet50] [--per-class 60] [--epochs 10]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image

from model_zoo.datasets import extract_dataset
from model_zoo.finetune.features import FEATURES, load_pixels
from model_zoo.finetune.model import head_layers, preprocessing_layer
from model_zoo.finetune.settings import TrainConfig
from model_zoo.finetune.split import stratified_split
from model_zoo.finetune.training import train
from model_zoo.weights import WeightsSource


def generated_zip(classes: int, per_class: int, side: int = 256) -> bytes:
    """Class folders of noisy photos, one dominant colour per class."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(classes):
            colour = rng.uniform(40, 215, 3)
            for i in range(per_class):
                pixels = np.clip(rng.normal(colour, 50, (side, side, 3)), 0, 255)
                out = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=90)
                zf.writestr(f"class_{c}/{i:03d}.jpg", out.getvalue())
    return buf.getvalue()


def textbook_loop(dataset, config: TrainConfig) -> float:
    """The textbook loop: frozen backbone in the model, fit over images every epoch."""
    import keras

    start = time.perf_counter()
    spec, size = config.spec, config.size
    paths, labels = dataset.samples()
    train_idx, val_idx = stratified_split(labels, config.val_split, config.seed)
    pixels = load_pixels(paths, size).astype(np.float32)
    backbone = spec.constructor(include_top=False, weights=None, input_shape=(size, size, 3))
    backbone.trainable = False
    inp = keras.Input((size, size, 3))
    x = backbone(preprocessing_layer(spec)(inp), training=False)
    for layer in head_layers(config.head, len(dataset.classes)):
        x = layer(x)
    model = keras.Model(inp, x)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        pixels[train_idx],
        labels[train_idx],
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(pixels[val_idx], labels[val_idx]),
        verbose=0,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    config = TrainConfig(
        backbone=args.backbone, head="gap_dropout", epochs=args.epochs, early_stopping=False
    )
    with tempfile.TemporaryDirectory(prefix="model_zoo_bench_") as job:
        dataset = extract_dataset(generated_zip(args.classes, args.per_class), Path(job))
        print(
            f"{dataset.size} images, {len(dataset.classes)} classes, {config.spec.display_name}"
            f" at {config.size}×{config.size}, {args.epochs} epochs, batch {config.batch_size}"
        )
        textbook_seconds = textbook_loop(dataset, config)
        print(
            f"(a) textbook loop (backbone in the model, fit over images): {textbook_seconds:.1f} s"
        )
        FEATURES.clear()
        start = time.perf_counter()
        result = train(dataset, config, WeightsSource("random"))
        ours = time.perf_counter() - start
    head_seconds = sum(h.seconds for h in result.history)
    print(
        f"(b) cached features: {ours:.1f} s in all — feature pass {result.feature_seconds:.1f} s "
        f"({result.feature_images_per_second:.1f} images/s), {args.epochs} head epochs "
        f"{head_seconds:.1f} s"
    )
    print(
        f"{args.epochs} epochs: textbook loop {textbook_seconds:.1f} s vs cached features "
        f"{ours:.1f} s, "
        f"ratio {textbook_seconds / ours:.2f}"
    )


if __name__ == "__main__":
    main()
