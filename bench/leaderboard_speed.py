"""The leaderboard: the full backbone × head grid in one go vs one single run per combination.

Random weights (speed does not depend on them), a generated dataset of coloured photos, each
backbone at its own input size, in one process. The baseline is what a user did before:
one ``train()`` per combination, each making its own feature pass as a separate
``model-zoo finetune`` does (the in-memory feature cache is cleared between runs). Every
backbone is built once before timing, so neither side pays for drawing random weights.
Prints both times per backbone and, as its LAST line, the ratio of the totals (goal ≥ 3).

    python bench/leaderboard_speed.py [--per-class 12] [--classes 4] [--epochs 5]
        [--backbones all] [--heads all]
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
from model_zoo.finetune.features import FEATURES
from model_zoo.finetune.leaderboard import parse_choice
from model_zoo.finetune.model import build_backbone
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.finetune.training import train, train_grid
from model_zoo.registry import MODELS, get_spec
from model_zoo.weights import WeightsSource

RANDOM = WeightsSource("random")


def dataset_zip(classes: int, per_class: int, side: int = 160) -> bytes:
    """Photos of ``classes`` hues with noise and a random bright square, as JPEGs."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(classes):
            hue = np.array([255 * (c % 2), 255 * ((c // 2) % 2), 128 + 127 * (c % 3 == 0)])
            for i in range(per_class):
                image = np.clip(hue + rng.normal(0, 40, (side, side, 3)), 0, 255)
                x, y = rng.integers(0, side - 40, 2)
                image[y : y + 40, x : x + 40] = 255
                out = io.BytesIO()
                Image.fromarray(image.astype(np.uint8)).save(out, "JPEG", quality=90)
                zf.writestr(f"class_{c}/{i:03d}.jpg", out.getvalue())
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--backbones", default="all")
    parser.add_argument("--heads", default="all")
    args = parser.parse_args()
    backbones = parse_choice(args.backbones, list(MODELS), "backbone")
    heads = parse_choice(args.heads, list(HEADS), "head")
    base = TrainConfig(epochs=args.epochs, batch_size=16, early_stopping=False)

    with tempfile.TemporaryDirectory() as job:
        dataset = extract_dataset(dataset_zip(args.classes, args.per_class), Path(job))
        for name in backbones:  # random weights drawn and saved once, for both sides
            spec = get_spec(name)
            build_backbone(spec, RANDOM, spec.input_size)

        FEATURES.clear()
        per_backbone_grid: dict[str, float] = {}
        start = time.perf_counter()
        mark = start

        def on_row(row: object, result: object) -> None:
            nonlocal mark
            name = result.config.backbone  # type: ignore[attr-defined]
            now = time.perf_counter()
            per_backbone_grid[name] = per_backbone_grid.get(name, 0.0) + now - mark
            mark = now

        rows = train_grid(dataset, backbones, heads, base, RANDOM, on_row=on_row)
        grid_seconds = time.perf_counter() - start

        per_backbone_single: dict[str, float] = {}
        single_seconds = 0.0
        for name in backbones:
            for head in heads:
                FEATURES.clear()  # a separate run: no features from the one before
                config = TrainConfig(
                    backbone=name,
                    head=head,
                    epochs=args.epochs,
                    batch_size=16,
                    early_stopping=False,
                )
                start = time.perf_counter()
                train(dataset, config, RANDOM)
                seconds = time.perf_counter() - start
                single_seconds += seconds
                per_backbone_single[name] = per_backbone_single.get(name, 0.0) + seconds

    for name in backbones:
        single, grid = per_backbone_single[name], per_backbone_grid.get(name, 0.0)
        print(
            f"{name:<12} {len(heads)} heads: single runs {single:6.1f} s   grid {grid:6.1f} s"
            f"   ratio {single / max(grid, 1e-9):.2f}"
        )
    print(f"best: {rows[0].label} ({rows[0].test_accuracy:.0%} on {rows[0].test_images} images)")
    print(
        f"leaderboard of {len(backbones)}x{len(heads)} on {dataset.size} images, "
        f"{args.epochs} epochs: grid {grid_seconds:.1f} s vs {len(backbones) * len(heads)} "
        f"single runs {single_seconds:.1f} s, ratio {single_seconds / grid_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
