"""Fine-tune's feature pass (the frozen backbone over every image): OpenVINO vs TensorFlow.

Random weights and random pixels (speed does not depend on either), batches of 32, the
same backbone object on both engines, in one process. Prints images/s per backbone for both
engines, the one-off conversion time (cached afterwards), and as its LAST line the ratio of
the totals.

    python bench/feature_pass.py [--images 256] [--backbones resnet50,xception]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from model_zoo.engine import engine_settings
from model_zoo.finetune.features import extract_features
from model_zoo.finetune.model import build_backbone
from model_zoo.registry import get_spec, parse_model_list
from model_zoo.weights import WeightsSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--backbones", default="resnet50,xception,vgg16")
    args = parser.parse_args()

    precision = engine_settings().resolved_precision()
    totals = {"TensorFlow": 0.0, "OpenVINO": 0.0}
    with tempfile.TemporaryDirectory() as cache:
        for name in parse_model_list(args.backbones):
            spec = get_spec(name)
            size = spec.input_size
            pixels = np.random.default_rng(0).integers(0, 255, (args.images, size, size, 3))
            pixels = pixels.astype(np.uint8)
            backbone = build_backbone(spec, WeightsSource("random"), size)
            folder = Path(cache) / name
            start = time.perf_counter()
            extract_features(backbone, spec, pixels[:32], 32, True, engine_folder=folder)
            conversion = time.perf_counter() - start
            extract_features(backbone, spec, pixels[:32], 32, True)  # trace TensorFlow's
            tf_features, tf_rate, _ = extract_features(backbone, spec, pixels, 32, True)
            ov_features, ov_rate, label = extract_features(
                backbone, spec, pixels, 32, True, engine_folder=folder
            )
            scale = float(np.abs(tf_features).max())
            diff = float(np.abs(ov_features - tf_features).max()) / scale
            totals["TensorFlow"] += args.images / tf_rate
            totals["OpenVINO"] += args.images / ov_rate
            print(
                f"{name:<13} TensorFlow {tf_rate:6.1f} images/s   {label} {ov_rate:6.1f} images/s"
                f"   ratio {ov_rate / tf_rate:.2f}   (conversion once: {conversion:.1f} s; "
                f"max feature difference {diff:.1e} of the largest)"
            )
    tf_total, ov_total = totals["TensorFlow"], totals["OpenVINO"]
    print(
        f"feature pass, {args.images} images per backbone at {precision}: OpenVINO "
        f"{ov_total:.1f} s vs TensorFlow {tf_total:.1f} s, ratio {tf_total / ov_total:.2f}"
    )


if __name__ == "__main__":
    main()
