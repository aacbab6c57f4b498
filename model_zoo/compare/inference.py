"""Loading the ImageNet classifiers and running them: the Compare job's engine."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_zoo.batching import MicroBatcher
from model_zoo.engine import (
    Converted,
    Engine,
    EngineSettings,
    TensorFlowEngine,
    build_keras_model,
    convert,
    engine_settings,
    load_engine,
    openvino_core,
)
from model_zoo.images import ResizeMode, resize
from model_zoo.labels import ClassScore, class_score, top_k
from model_zoo.registry import ModelSpec, get_spec
from model_zoo.weights import WeightsSource, weights_source

MERGED_IMAGES = 4  # the most photos one engine call merges from concurrent visitors
# One engine call at a time across the models: each compiled model already uses every core,
# and two models at once only fought over them (eight sessions: 8.9 -> 10.7 images/s).
_ENGINE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Prediction:
    """One model's answer for one image.

    Attributes:
        model: Registry name.
        top: The best classes, best first.
        probabilities: The full 1000-way softmax output.
        ms: Wall time of resize + preprocessing + forward pass, per image.
    """

    model: str
    top: tuple[ClassScore, ...]
    probabilities: np.ndarray
    ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "predictions": [c.to_dict() for c in self.top],
            "ms": round(self.ms, 2),
        }


@dataclass(frozen=True)
class Agreement:
    """Where the models agree on one image.

    Attributes:
        first_choices: Each model's top-1, in the order given.
        unanimous: Every model's top-1 is the same class.
        consensus: The most common top-1 and how many models chose it (ties: best
            ensemble score wins).
        ensemble: Top-k of the mean of the models' probability vectors.
    """

    first_choices: dict[str, ClassScore]
    unanimous: bool
    consensus: tuple[ClassScore, int]
    ensemble: tuple[ClassScore, ...]

    def to_dict(self) -> dict[str, Any]:
        label, votes = self.consensus
        return {
            "unanimous": self.unanimous,
            "consensus": label.label,
            "votes": votes,
            "ensemble": [c.to_dict() for c in self.ensemble],
        }


@dataclass(frozen=True)
class Comparison:
    """Every chosen model's prediction on one image, and their agreement."""

    predictions: tuple[Prediction, ...]
    agreement: Agreement


class Classifier:
    """An ImageNet model behind an inference engine (OpenVINO or TensorFlow), lock-guarded.

    Instances are shared between app sessions and never modified. The Keras model, which
    Grad-CAM needs, is built only when first asked for (``keras_model``): Compare alone does
    not hold a second copy of each model.
    """

    def __init__(
        self,
        spec: ModelSpec,
        engine: Engine,
        weights: WeightsSource,
        load_seconds: float = 0.0,
        keras_model: Any = None,
    ) -> None:
        self.spec = spec
        self.engine = engine
        self.weights = weights
        self.load_seconds = load_seconds
        # Shared by every session: one call at a time (Compare and Grad-CAM alike), and one
        # model at a time (_ENGINE_LOCK).
        self.lock = _ENGINE_LOCK
        # Concurrent visitors' photos share engine calls (``batching``); a lone one runs at once.
        self._batcher = MicroBatcher(
            lambda batch: self.engine(batch), MERGED_IMAGES, self._release, lock=self.lock
        )
        self._keras_model = keras_model
        self._keras_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def engine_label(self) -> str:
        """E.g. "OpenVINO bf16" or "TensorFlow"."""
        return self.engine.label

    def keras_model(self) -> Any:
        """The Keras model with the same weights as the engine, built on first use."""
        with self._keras_lock:
            if self._keras_model is None:
                self._keras_model = build_keras_model(self.spec, self.weights)
            return self._keras_model

    def warm_up(self) -> None:
        """Runs one dummy inference so the first real request does not pay for set-up."""
        self.probabilities(np.zeros((1, *self.spec.input_shape), dtype=np.float32))

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Softmax outputs for a batch of raw 0-255 RGB pixels at the model's input size."""
        batch = np.ascontiguousarray(pixels, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.spec.input_shape:
            raise ValueError(
                f"{self.spec.display_name} expects (N, {self.spec.input_size}, "
                f"{self.spec.input_size}, 3) pixels, got {batch.shape}."
            )
        return self._batcher(batch)

    def _release(self) -> None:
        release = getattr(self.engine, "release_buffers", None)
        if release is not None:
            with self.lock:
                release()

    def classify(
        self, images: Sequence[np.ndarray], top: int = 5, resize_mode: ResizeMode = "squash"
    ) -> list[Prediction]:
        """Classifies RGB uint8 images of any size.

        Args:
            images: ``(H, W, 3)`` uint8 arrays, e.g. from ``images.load_image``.
            top: How many classes to keep per image.
            resize_mode: ``"squash"`` or ``"crop"``, see ``images.resize``.
        """
        if not images:
            return []
        start = time.perf_counter()
        batch = np.stack([resize(img, self.spec.input_size, resize_mode) for img in images])
        probs = self.probabilities(batch)
        ms = (time.perf_counter() - start) * 1000 / len(images)
        return [Prediction(self.name, tuple(top_k(p, top)), p, ms) for p in probs]


def load_classifier(
    name: str,
    weights: WeightsSource | str | None = None,
    settings: EngineSettings | None = None,
    converted: Converted | None = None,
) -> Classifier:
    """Loads a registry model with the chosen weights on the chosen engine, warmed up.

    OpenVINO (the default) compiles the cached IR, converting the model first if needed; it
    falls back to TensorFlow when OpenVINO is missing or the conversion fails, unless the
    settings ask for OpenVINO alone.

    Args:
        name: Registry name, e.g. ``"xception"``.
        weights: A ``WeightsSource``, its string form, or None for ``$MODEL_ZOO_WEIGHTS``.
        settings: Engine and precision, None for ``$MODEL_ZOO_ENGINE``/``$MODEL_ZOO_PRECISION``.
        converted: The conversion outcome when the caller converted already (``engine.convert``).

    Raises:
        ValueError: unknown model, weights or engine setting.
        MissingWeightsError: the weights file is not available and cannot be downloaded.
        RuntimeError: ``MODEL_ZOO_ENGINE=openvino`` and OpenVINO cannot run this model.
    """
    spec = get_spec(name)
    source = weights if isinstance(weights, WeightsSource) else weights_source(weights)
    settings = settings or engine_settings()
    start = time.perf_counter()
    engine: Engine | None = None
    keras_model = None
    if settings.wants_openvino and openvino_core() is not None:
        engine, outcome = load_engine(name, source, settings.resolved_precision(), converted)
        outcome.raise_for_missing()
        if engine is not None:  # merged requests run as one batch (buffers for 4 at most)
            engine.max_batch = MERGED_IMAGES
        if engine is None and settings.engine == "openvino":
            raise RuntimeError(f"OpenVINO could not convert {spec.display_name}: {outcome.error}")
    elif settings.engine == "openvino":
        raise RuntimeError("MODEL_ZOO_ENGINE=openvino, but OpenVINO is not installed.")
    if engine is None:
        keras_model = build_keras_model(spec, source)
        engine = TensorFlowEngine(spec, keras_model)
    classifier = Classifier(spec, engine, source, keras_model=keras_model)
    classifier.warm_up()
    classifier.load_seconds = time.perf_counter() - start
    return classifier


def load_classifiers(
    names: Sequence[str],
    weights: WeightsSource | str | None = None,
    settings: EngineSettings | None = None,
) -> list[Classifier]:
    """``load_classifier`` for several models, converting the missing IRs in one go.

    Raises:
        Like ``load_classifier``, for the first model that fails.
    """
    source = weights if isinstance(weights, WeightsSource) else weights_source(weights)
    settings = settings or engine_settings()
    converted: dict[str, Converted] = {}
    if settings.wants_openvino and openvino_core() is not None:
        converted = convert(names, source, settings.resolved_precision())
    return [load_classifier(n, source, settings, converted.get(n)) for n in names]


def agreement(predictions: Sequence[Prediction], top: int = 5) -> Agreement:
    """Summarises where several models agree on one image.

    Raises:
        ValueError: no predictions.
    """
    if not predictions:
        raise ValueError("No predictions to compare.")
    first = {p.model: p.top[0] for p in predictions}
    mean = np.mean([p.probabilities for p in predictions], axis=0)
    votes = Counter(choice.index for choice in first.values())
    best_index = max(votes, key=lambda i: (votes[i], mean[i]))
    return Agreement(
        first_choices=first,
        unanimous=len(votes) == 1,
        consensus=(class_score(mean, best_index), votes[best_index]),
        ensemble=tuple(top_k(mean, top)),
    )


def compare(
    classifiers: Sequence[Classifier],
    images: Sequence[np.ndarray],
    top: int = 5,
    resize_mode: ResizeMode = "squash",
) -> list[Comparison]:
    """Runs every classifier on every image: one ``Comparison`` per image, in order."""
    per_model = [c.classify(images, top, resize_mode) for c in classifiers]
    results = []
    for i in range(len(images)):
        preds = tuple(model_preds[i] for model_preds in per_model)
        results.append(Comparison(preds, agreement(preds, top)))
    return results
