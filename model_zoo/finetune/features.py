"""Images and backbone features for training: the split, decoded pixels, one backbone pass
over them, and a cache of its results (in memory, and as files beside the dataset)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import engine, runtime
from model_zoo.datasets import Dataset
from model_zoo.finetune.events import Progress, ProgressFn, noop
from model_zoo.finetune.model import preprocessing_layer
from model_zoo.finetune.settings import HEAD_SPECS, TrainConfig, TrainingStopped
from model_zoo.images import load_image, resize
from model_zoo.registry import ModelSpec
from model_zoo.weights import MissingWeightsError, WeightsSource

FEATURE_CACHE_BYTES = 512 * 1024 * 1024
# Converting a backbone for OpenVINO costs about 4 s; below this many images (and with
# no converted backbone cached) the TensorFlow pass is over before the conversion would be.
OPENVINO_MIN_IMAGES = 128


def load_pixels(
    paths: Sequence[Any],
    size: int,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
) -> np.ndarray:
    """Decodes and squashes images to ``(N, size, size, 3)`` uint8 (as Compare does)."""
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        if stop is not None and stop.is_set():
            raise TrainingStopped
        out[i] = resize(load_image(path.read_bytes()), size).round().astype(np.uint8)
        if i % 16 == 0 or i == len(paths) - 1:
            on_progress(Progress("loading images", i + 1, len(paths)))
    return out


class FeatureCache:
    """Backbone features by (dataset content, backbone, size, weights): shared, bounded."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: tuple, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        value.setflags(write=False)
        with self._lock:
            self._items[key] = value
            while sum(v.nbytes for v in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


FEATURES = FeatureCache(FEATURE_CACHE_BYTES)


class CachedFeatures:
    """Where one run's features are kept: keyed by dataset content, backbone, size, weights
    and pooling; in ``FEATURES`` and, with ``folder``, as a file a later process finds."""

    def __init__(
        self,
        dataset: Dataset,
        config: TrainConfig,
        weights: WeightsSource,
        folder: Path | None,
        pooled: bool | None = None,
    ) -> None:
        # Pooled features unless the head flattens the map (or the caller says otherwise).
        self.pooled = HEAD_SPECS[config.head].pooled if pooled is None else pooled
        self.key = (
            dataset.digest,
            config.spec.name,
            config.size,
            str(weights),
            self.pooled,
            config.seed if weights.is_random else None,
        )
        digest = hashlib.blake2b(repr(self.key).encode(), digest_size=12).hexdigest()
        self.file = folder / f"{digest}.npy" if folder is not None else None
        self.batch_size = config.batch_size
        self.spec = config.spec
        self.engine_folder = feature_engine_folder(config, weights, self.pooled)
        self.seconds = self.images_per_second = 0.0  # of the pass, when this run made one
        self.engine = ""  # the engine of the pass, when this run made one

    @property
    def as_downloaded(self) -> bool:
        """Whether this run's pass computed what the downloaded (f32 Keras) model computes,
        to float rounding: on TensorFlow, or on OpenVINO in f32 (within 1e-4, a test
        checks); a bf16 pass, or features read back from a file, are not known to."""
        return self.engine in ("TensorFlow", "OpenVINO f32")

    def extract(
        self,
        backbone: Any,
        pixels: np.ndarray,
        stop: threading.Event | None = None,
        on_progress: ProgressFn = noop,
    ) -> np.ndarray:
        """One backbone pass over ``pixels`` (``extract_features``), timed and kept."""
        start = time.perf_counter()
        folder = self.engine_folder
        if folder is not None and len(pixels) < OPENVINO_MIN_IMAGES and not folder.is_dir():
            folder = None
        features, self.images_per_second, self.engine = extract_features(
            backbone, self.spec, pixels, self.batch_size, self.pooled, stop, on_progress, folder
        )
        self.seconds = time.perf_counter() - start
        self.save(features)
        return features

    def load(self) -> np.ndarray | None:
        features = FEATURES.get(self.key)
        if features is None and self.file is not None:
            with contextlib.suppress(OSError, ValueError):
                features = np.load(self.file)
        return features

    def save(self, features: np.ndarray) -> None:
        FEATURES.put(self.key, features)
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.parent.mkdir(exist_ok=True)
                np.save(self.file, features)


def feature_engine_folder(config: TrainConfig, weights: WeightsSource, pooled: bool) -> Path | None:
    """Where this backbone's feature pass is cached for OpenVINO, or None to stay on
    TensorFlow (``MODEL_ZOO_ENGINE=tensorflow``, no OpenVINO, or several workers)."""
    settings = engine.engine_settings()
    if not settings.wants_openvino or engine.openvino_core() is None or os.environ.get("TF_CONFIG"):
        return None
    precision = settings.resolved_precision()
    spec = config.spec
    try:
        key = engine.weights_key(spec, weights, notop=True)
    except MissingWeightsError:
        return None  # building the backbone reports it
    if weights.is_random:
        key += f"-seed{config.seed}"
    name = f"{spec.name}-notop-{key}-{config.size}-{'gap' if pooled else 'flat'}"
    return engine.cached_ir_folder(name, precision)


def extract_features(
    backbone: Any,
    spec: ModelSpec,
    pixels: np.ndarray,
    batch_size: int,
    pooled: bool,
    stop: threading.Event | None = None,
    on_progress: ProgressFn = noop,
    engine_folder: Path | None = None,
) -> tuple[np.ndarray, float, str]:
    """One pass of the frozen backbone over all images, in batches.

    With ``engine_folder``, the pass runs on OpenVINO (the converted backbone cached there,
    at the precision of ``engine.engine_settings``), falling back to TensorFlow if the
    conversion fails.

    Returns:
        ``(N, D)`` features (pooled, or the flattened feature map), images per second, and
        the engine that ran the pass.
    """
    tf = runtime.tensorflow()
    pre = preprocessing_layer(spec)

    @tf.function(reduce_retracing=True)
    def forward(x: Any) -> Any:
        maps = backbone(pre(tf.cast(x, tf.float32)), training=False)
        if pooled:
            return tf.reduce_mean(maps, axis=[1, 2])
        return tf.reshape(maps, [tf.shape(maps)[0], -1])

    run: Any = lambda batch: np.asarray(forward(batch))  # noqa: E731
    label = "TensorFlow"
    if engine_folder is not None:
        signature = tf.TensorSpec([None, *pixels.shape[1:]], tf.as_dtype(pixels.dtype))
        compiled = engine.cached_openvino(
            engine_folder,
            lambda: forward.get_concrete_function(signature),
            engine.engine_settings().resolved_precision(),
            batch_size,
        )
        if compiled is not None:  # else TensorFlow does the pass
            run, label = compiled, compiled.label

    chunks = []
    steps = max(1, -(-len(pixels) // batch_size))
    start = time.perf_counter()
    for step in range(steps):
        if stop is not None and stop.is_set():
            raise TrainingStopped
        chunks.append(run(pixels[step * batch_size : (step + 1) * batch_size]))
        on_progress(Progress("extracting features", step + 1, steps))
    seconds = time.perf_counter() - start
    return np.concatenate(chunks), len(pixels) / max(seconds, 1e-9), label
