"""The pooled backbone features the doctor judges labels by: the very features a run with
the same backbone, size, weights and seed caches (``finetune.features.CachedFeatures``),
so the doctor's pass is the run's, and a run afterwards makes none.

Where that backbone's OpenVINO IR is cached already (any server after its first run of
it), the pass runs on it alone: no TensorFlow is imported, which is most of a cold
child's start-up.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
import time
from pathlib import Path

import numpy as np

from model_zoo import runtime
from model_zoo.datasets import Dataset
from model_zoo.doctor.report import Findings
from model_zoo.engine import IR_FILE, OpenVINOEngine, engine_settings
from model_zoo.finetune.events import Progress, ProgressFn, noop
from model_zoo.finetune.features import CachedFeatures
from model_zoo.finetune.settings import TrainConfig, TrainingStopped
from model_zoo.weights import WeightsSource


def _on_cached_ir(
    cache: CachedFeatures,
    pixels: np.ndarray,
    stop: threading.Event | None,
    on_progress: ProgressFn,
) -> np.ndarray | None:
    """The pass on the IR cached for ``cache`` (None where there is none)."""
    folder = cache.engine_folder
    if folder is None or not (folder / IR_FILE).is_file():
        return None
    try:
        engine = OpenVINOEngine(folder / IR_FILE, engine_settings().resolved_precision(), 16)
    except RuntimeError:  # damaged: the TensorFlow path converts it again
        return None
    start = time.perf_counter()
    chunks, step = [], cache.batch_size
    for i in range(0, len(pixels), step):
        if stop is not None and stop.is_set():
            raise TrainingStopped
        chunks.append(engine(pixels[i : i + step]))
        on_progress(Progress("extracting features", i // step + 1, -(-len(pixels) // step)))
    cache.seconds = time.perf_counter() - start
    cache.images_per_second = len(pixels) / max(cache.seconds, 1e-9)
    cache.engine = engine.label
    features = np.concatenate(chunks)
    cache.save(features)
    return features


def pooled_features(
    dataset: Dataset,
    config: TrainConfig,
    weights: WeightsSource,
    feature_dir: Path | None,
    pixels: np.ndarray,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
) -> tuple[np.ndarray, float]:
    """``(N, D)`` pooled features in ``samples()`` order, and the seconds spent making them
    (0 when cached). ``pixels`` are the images at ``config.size`` (``load_pixels``).

    Without a cached IR this imports TensorFlow and builds the backbone: run it in a child.

    Raises:
        MissingWeightsError: the backbone's weights are not available.
    """
    cache = CachedFeatures(dataset, config, weights, feature_dir, pooled=True)
    features = cache.load()
    if features is not None:
        return features, 0.0
    features = _on_cached_ir(cache, pixels, stop, on_progress)
    if features is not None:
        return features, cache.seconds
    from model_zoo.finetune.model import build_backbone

    # As ``training.train`` does before it builds the backbone: on random weights the
    # seed decides the backbone, and the cached features must be the ones a run makes.
    runtime.keras().utils.set_random_seed(config.seed)
    backbone = build_backbone(config.spec, weights, config.size)
    features = cache.extract(backbone, pixels, stop, on_progress)
    return features, cache.seconds


def feature_folder(dataset: Dataset) -> Path:
    """Where a dataset's cached features live: the folder runs read them from."""
    return dataset.root.parent / "features"


def check_dataset(
    dataset: Dataset,
    config: TrainConfig,
    weights: WeightsSource,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
) -> Findings:
    """The whole check: decode once, the run's feature pass (cached for it), then
    ``diagnose`` on the features and the decoded images."""
    from model_zoo.doctor.report import diagnose
    from model_zoo.finetune.features import load_pixels

    pixels = load_pixels(dataset.samples()[0], config.size, stop, on_progress)
    # cleanlab's import (scikit-learn, SciPy, pandas) takes 1.5 s: it overlaps the feature
    # pass, whose engine holds no GIL (during the decode it slowed both).
    threading.Thread(target=importlib.import_module, args=("cleanlab.filter",)).start()
    features, seconds = pooled_features(
        dataset, config, weights, feature_folder(dataset), pixels, stop, on_progress
    )
    findings = diagnose(
        dataset,
        features,
        val_split=config.val_split,
        test_split=config.test_split,
        seed=config.seed,
        pixels=pixels,
    )
    return dataclasses.replace(findings, feature_seconds=seconds)


__all__ = ["check_dataset", "feature_folder", "pooled_features"]
