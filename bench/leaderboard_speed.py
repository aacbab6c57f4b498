"""The leaderboard: the full backbone × head grid in one go vs one single run per combination.

Random weights (speed does not depend on them), a generated dataset of photos (noisy colour
fields with a bright square, 384×288 JPEGs), each backbone at its own input size, the same
settings on both sides. Two comparisons:

- **as a user runs them** (``--mode cli``): one ``model-zoo leaderboard`` process vs one
  ``model-zoo finetune`` process per combination, as a user answered the question before
  (each run in the app is also a process of its own);
- **in one process** (``--mode in-process``): ``train_grid`` vs one ``train()`` per
  combination, the feature cache cleared between runs: what is left once start-up is not
  counted (at most about 3: five feature passes instead of fifteen).

Random weights are drawn once before timing, so neither side pays for that. Prints the
figures of each, and as its LAST line the ratio of the first mode run (goal ≥ 3).

    python bench/leaderboard_speed.py [--mode both|cli|in-process] [--per-class 12]
        [--classes 4] [--epochs 5] [--backbones all] [--heads all]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
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
from model_zoo.finetune.grid import train_grid
from model_zoo.finetune.leaderboard import parse_choice
from model_zoo.finetune.model import build_backbone
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.finetune.training import train
from model_zoo.registry import MODELS, get_spec
from model_zoo.weights import WeightsSource

RANDOM = WeightsSource("random")


ROOT = Path(__file__).resolve().parents[1]


def dataset_zip(classes: int, per_class: int, width: int = 384, height: int = 288) -> bytes:
    """Photos of ``classes`` hues with noise and a random bright square, as JPEGs."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(classes):
            hue = np.array([255 * (c % 2), 255 * ((c // 2) % 2), 128 + 127 * (c % 3 == 0)])
            for i in range(per_class):
                image = np.clip(hue + rng.normal(0, 40, (height, width, 3)), 0, 255)
                x, y = rng.integers(0, height - 60, 2)
                image[y : y + 60, x : x + 60] = 255
                out = io.BytesIO()
                Image.fromarray(image.astype(np.uint8)).save(out, "JPEG", quality=90)
                zf.writestr(f"class_{c}/{i:03d}.jpg", out.getvalue())
    return buf.getvalue()


def cli(*args: str) -> float:
    """Seconds one ``python -m model_zoo`` command takes (it must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MODEL_ZOO_WEIGHTS": "random"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "model_zoo", *args], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"model-zoo {args[0]} failed: {proc.stderr.strip()[-500:]}")
    return seconds


def as_a_user(data: Path, backbones: list[str], heads: list[str], epochs: int) -> float:
    """One leaderboard process vs one finetune process per combination; returns the ratio."""
    shared = ["--epochs", str(epochs), "--batch-size", "16", "--no-early-stopping"]
    with tempfile.TemporaryDirectory() as out:
        grid = cli(
            "leaderboard",
            str(data),
            "--backbones",
            ",".join(backbones),
            "--heads",
            ",".join(heads),
            *shared,
            "--out",
            f"{out}/board",
        )
        singles: dict[str, float] = {}
        for name in backbones:
            for head in heads:
                seconds = cli(
                    "finetune",
                    str(data),
                    "--backbone",
                    name,
                    "--head",
                    head,
                    *shared,
                    "--out",
                    f"{out}/{name}-{head}",
                )
                singles[name] = singles.get(name, 0.0) + seconds
    for name in backbones:
        print(f"{name:<12} {len(heads)} finetune processes: {singles[name]:6.1f} s")
    total = sum(singles.values())
    print(
        f"as a user: 1 leaderboard process {grid:.1f} s vs {len(backbones) * len(heads)} "
        f"finetune processes {total:.1f} s, ratio {total / grid:.2f}"
    )
    return total / grid


def in_one_process(data: bytes, backbones: list[str], heads: list[str], epochs: int) -> float:
    """``train_grid`` vs one ``train()`` per combination; returns the ratio."""
    base = TrainConfig(epochs=epochs, batch_size=16, early_stopping=False)
    with tempfile.TemporaryDirectory() as job:
        dataset = extract_dataset(data, Path(job))
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
        for name in backbones:
            for head in heads:
                FEATURES.clear()  # a separate run: no features from the one before
                config = TrainConfig(
                    backbone=name, head=head, epochs=epochs, batch_size=16, early_stopping=False
                )
                start = time.perf_counter()
                train(dataset, config, RANDOM)
                seconds = time.perf_counter() - start
                per_backbone_single[name] = per_backbone_single.get(name, 0.0) + seconds
    for name in backbones:
        single, grid = per_backbone_single[name], per_backbone_grid.get(name, 0.0)
        print(
            f"{name:<12} {len(heads)} heads: single runs {single:6.1f} s   grid {grid:6.1f} s"
            f"   ratio {single / max(grid, 1e-9):.2f}"
        )
    print(f"best: {rows[0].label} ({rows[0].test_accuracy:.0%} on {rows[0].test_images} images)")
    single_seconds = sum(per_backbone_single.values())
    print(
        f"in one process: grid {grid_seconds:.1f} s vs {len(backbones) * len(heads)} single "
        f"runs {single_seconds:.1f} s, ratio {single_seconds / grid_seconds:.2f}"
    )
    return single_seconds / grid_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["both", "cli", "in-process"], default="both")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--backbones", default="all")
    parser.add_argument("--heads", default="all")
    args = parser.parse_args()
    backbones = parse_choice(args.backbones, list(MODELS), "backbone")
    heads = parse_choice(args.heads, list(HEADS), "head")
    data = dataset_zip(args.classes, args.per_class)
    for name in backbones:  # random weights drawn and saved once, for both sides
        spec = get_spec(name)
        build_backbone(spec, RANDOM, spec.input_size)
    n = args.classes * args.per_class
    print(f"{len(backbones)}x{len(heads)} grid on {n} photos, {args.epochs} epochs, random weights")
    ratios = {}
    if args.mode in ("both", "cli"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "data.zip"
            path.write_bytes(data)
            ratios["as a user (processes)"] = as_a_user(path, backbones, heads, args.epochs)
    if args.mode in ("both", "in-process"):
        ratios["in one process"] = in_one_process(data, backbones, heads, args.epochs)
    first = next(iter(ratios))
    others = "; ".join(f"{k} {v:.2f}" for k, v in list(ratios.items())[1:])
    print(
        f"leaderboard {len(backbones)}x{len(heads)} vs single runs, {first}: ratio "
        f"{ratios[first]:.2f}" + (f" ({others})" if others else "")
    )


if __name__ == "__main__":
    main()
