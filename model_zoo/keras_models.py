"""The Compare models as Keras builds them (imports TensorFlow): one at a time, with the
weights a source gives (random ones drawn once and shared by every process), and run on
TensorFlow as one traced graph where OpenVINO is not used."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.engine_choice import cache_root
from model_zoo.registry import ModelSpec
from model_zoo.weights import MissingWeightsError, WeightsSource


def random_weights_file(spec: ModelSpec) -> Path:
    """Random weights are drawn once and kept here, so every process (the engine, Grad-CAM,
    the CLI) sees the same model."""
    return cache_root() / "random" / f"{spec.name}.weights.h5"


_BUILD_LOCK = threading.Lock()


def build_keras_model(spec: ModelSpec, source: WeightsSource) -> Any:
    """The Keras ImageNet model of ``spec`` with ``source``'s weights (imports TensorFlow).

    Raises:
        MissingWeightsError: the weights file is missing, cannot be downloaded or is damaged.
    """
    runtime.tensorflow()
    weights_file = source.keras_argument(spec)
    with _BUILD_LOCK:  # one model built at a time: building is memory-hungry, not parallel
        try:
            model = spec.constructor(weights=weights_file)
        except Exception as err:  # h5py/Keras errors on a damaged or foreign file
            if weights_file is None:
                raise
            raise MissingWeightsError(
                spec,
                f"{spec.display_name} weights in {weights_file} could not be read "
                f"({type(err).__name__}: {str(err)[:160]}). Replace the file with the official "
                f"one from {spec.weights_url()}.",
            ) from None
        if source.is_random:
            _share_random_weights(spec, model)
    runtime.release_free_memory()
    return model


def _share_random_weights(spec: ModelSpec, model: Any) -> None:
    path = random_weights_file(spec)
    if path.is_file():
        model.load_weights(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        model.save_weights(staged)
        os.replace(staged, path)  # atomic: a concurrent process sees all or nothing


def tensorflow_function(spec: ModelSpec, model: Any) -> Any:
    """One traced graph: preprocessing and the forward pass as a single compiled call."""
    tf = runtime.tensorflow()
    preprocess = spec.preprocess_input
    size = spec.input_size

    @tf.function(
        input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="pixels")],
        reduce_retracing=True,
    )
    def infer(pixels: Any) -> Any:
        return model(preprocess(pixels), training=False)

    return infer


class TensorFlowEngine:
    """The Keras model run through ``tensorflow_function`` (the fallback engine)."""

    label = "TensorFlow"

    def __init__(self, spec: ModelSpec, model: Any) -> None:
        self.model = model
        self._infer = tensorflow_function(spec, model)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return np.asarray(self._infer(pixels))
