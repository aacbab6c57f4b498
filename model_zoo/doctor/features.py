"""The pooled backbone features the doctor judges labels by: the very features a run with
the same backbone, size, weights and seed caches (``finetune.features.CachedFeatures``),
so the doctor's pass is the run's, and a run afterwards makes none."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.finetune.events import ProgressFn, noop
from model_zoo.finetune.features import CachedFeatures, load_pixels
from model_zoo.finetune.model import build_backbone
from model_zoo.finetune.settings import TrainConfig
from model_zoo.weights import WeightsSource


def pooled_features(
    dataset: Dataset,
    config: TrainConfig,
    weights: WeightsSource,
    feature_dir: Path | None,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
) -> tuple[np.ndarray, float]:
    """``(N, D)`` pooled features in ``samples()`` order, and the seconds spent making them
    (0 when cached). Imports TensorFlow where nothing is cached: run it in a child.

    Raises:
        MissingWeightsError: the backbone's weights are not available.
    """
    cache = CachedFeatures(dataset, config, weights, feature_dir, pooled=True)
    features = cache.load()
    if features is not None:
        return features, 0.0
    # As ``training.train`` does before it builds the backbone: on random weights the
    # seed decides the backbone, and the cached features must be the ones a run makes.
    runtime.keras().utils.set_random_seed(config.seed)
    pixels = load_pixels(dataset.samples()[0], config.size, stop, on_progress)
    backbone = build_backbone(config.spec, weights, config.size)
    features = cache.extract(backbone, pixels, stop, on_progress)
    return features, cache.seconds


__all__ = ["pooled_features"]
