"""Loading the ImageNet classifiers and running them: the Compare job's engine."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.images import ResizeMode, resize
from model_zoo.labels import ClassScore, class_score, top_k
from model_zoo.registry import ModelSpec, get_spec
from model_zoo.weights import MissingWeightsError, WeightsSource, weights_source


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
    """A loaded ImageNet model behind a compiled, lock-guarded inference call.

    Instances are shared between app sessions; nothing here mutates the Keras model.
    """

    def __init__(
        self, spec: ModelSpec, model: Any, weights: WeightsSource, load_seconds: float = 0.0
    ) -> None:
        tf = runtime.tensorflow()
        self.spec = spec
        self.model = model
        self.weights = weights
        self.load_seconds = load_seconds
        # Shared by every session: one call at a time (Compare and Grad-CAM alike).
        self.lock = threading.Lock()
        preprocess = spec.preprocess_input
        size = spec.input_size

        # One traced graph per model: preprocessing and the forward pass run as a single
        # compiled call, avoiding model.predict's per-call set-up cost.
        @tf.function(
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
            reduce_retracing=True,
        )
        def infer(pixels: Any) -> Any:
            return model(preprocess(pixels), training=False)

        self._infer = infer

    @property
    def name(self) -> str:
        return self.spec.name

    def warm_up(self) -> None:
        """Runs one dummy inference so the first real request does not pay for tracing."""
        self.probabilities(np.zeros((1, *self.spec.input_shape), dtype=np.float32))

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Softmax outputs for a batch of raw 0-255 RGB pixels at the model's input size."""
        batch = np.ascontiguousarray(pixels, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.spec.input_shape:
            raise ValueError(
                f"{self.spec.display_name} expects (N, {self.spec.input_size}, "
                f"{self.spec.input_size}, 3) pixels, got {batch.shape}."
            )
        with self.lock:
            return np.asarray(self._infer(batch))

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


def load_classifier(name: str, weights: WeightsSource | str | None = None) -> Classifier:
    """Builds a registry model with the chosen weights and warms it up.

    Args:
        name: Registry name, e.g. ``"xception"``.
        weights: A ``WeightsSource``, its string form, or None for ``$MODEL_ZOO_WEIGHTS``.

    Raises:
        ValueError: unknown model or weights value.
        MissingWeightsError: the weights file is not available and cannot be downloaded.
    """
    spec = get_spec(name)
    source = weights if isinstance(weights, WeightsSource) else weights_source(weights)
    runtime.tensorflow()
    start = time.perf_counter()
    weights_file = source.keras_argument(spec)
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
    runtime.release_free_memory()
    classifier = Classifier(spec, model, source)
    classifier.warm_up()
    classifier.load_seconds = time.perf_counter() - start
    return classifier


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
