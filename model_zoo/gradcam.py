"""Grad-CAM's core (Selvaraju et al., 2017), shared by Compare and Fine-tune: on an engine
whose IR has Grad-CAM's outputs (``run_cam``: one forward pass, the gradient in NumPy, see
``cam``), else on TensorFlow (one compiled function per model, from raw pixels to (heatmap,
probabilities, class), cached per model object); and the overlay of a heatmap on the photo.
The class score is the logit, before the softmax, computed from the classifier layer's own
weights rather than by editing it.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from model_zoo import runtime
from model_zoo.images import ResizeMode, center_square

DEFAULT_OPACITY = 0.45


@dataclass(frozen=True)
class Explanation:
    """A Grad-CAM heatmap for one model, image and class.

    Attributes:
        model: Registry name (or the fine-tuned model's name).
        class_index: The class explained.
        heatmap: ``(h, w)`` float32 in [0, 1] at the explained layer's resolution.
        probabilities: The model's output on this image (the same forward pass).
        engine: What explained it: "OpenVINO bf16", "OpenVINO f32" or "TensorFlow".
    """

    model: str
    class_index: int
    heatmap: np.ndarray
    probabilities: np.ndarray
    engine: str = "TensorFlow"

    @property
    def score(self) -> float:
        """The model's probability for the class explained."""
        return float(self.probabilities[self.class_index])


# One compiled Grad-CAM function per model object, built on first use.
_FUNCTIONS: weakref.WeakKeyDictionary[Any, Callable] = weakref.WeakKeyDictionary()
_FUNCTIONS_LOCK = threading.Lock()


def gradcam_function(forward: Callable[[Any], tuple[Any, Any]], dense: Any, size: int) -> Callable:
    """Compiles ``pixels, class -> (cam, probabilities, class)`` around ``forward``, traced
    once for one ``size`` × ``size`` photo.

    ``forward`` maps raw pixels to (feature maps, input of the final Dense layer).
    """
    tf = runtime.tensorflow()

    @tf.function
    def cam(pixels: Any, class_index: Any) -> tuple[Any, Any, Any]:
        with tf.GradientTape() as tape:
            maps, features = forward(pixels)
            tape.watch(maps)
            # A Dense kernel (C, K) or a 1x1 convolution's (1, 1, C, K) on pooled features
            kernel = tf.reshape(dense.kernel, [-1, tf.shape(dense.kernel)[-1]])
            flat = tf.reshape(features, [tf.shape(features)[0], -1])
            logits = tf.matmul(flat, kernel) + dense.bias
            # class_index < 0 means "the top-1": resolved here, in the same pass
            top1 = tf.argmax(logits[0], output_type=tf.int32)
            target = tf.where(class_index < 0, top1, class_index)
            score = logits[:, target]
        grads = tape.gradient(score, maps)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # channel importance
        heat = tf.nn.relu(tf.reduce_sum(maps * weights, axis=-1))[0]
        heat = heat / (tf.reduce_max(heat) + 1e-12)
        return heat, tf.nn.softmax(logits)[0], target

    # Traced here, once, and called as a concrete function: each model has its own, and
    # calling five such functions through tf.function's dispatch counted as retracing one.
    return cam.get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32), tf.TensorSpec([], tf.int32)
    )


def function_for(key: Any, build: Callable[[], Callable]) -> Callable:
    with _FUNCTIONS_LOCK:
        function = _FUNCTIONS.get(key)
        if function is None:
            function = _FUNCTIONS[key] = build()
        return function


def run_gradcam(
    function: Callable,
    pixels: np.ndarray,
    class_index: int | None,
    name: str,
    lock: threading.Lock | None,
) -> Explanation:
    tf = runtime.tensorflow()
    batch = tf.constant(pixels[None], dtype=tf.float32)
    with lock if lock is not None else contextlib.nullcontext():
        heat, probs, target = function(
            batch, tf.constant(-1 if class_index is None else class_index, dtype=tf.int32)
        )
    return Explanation(name, int(target), np.asarray(heat, dtype=np.float32), np.asarray(probs))


class Backward(Protocol):
    """Grad-CAM's backward pass from the map and hidden activations (``cam.CamHead``, or
    its compiled form)."""

    def heatmap(
        self, maps: np.ndarray, hidden: list[np.ndarray], class_index: int
    ) -> np.ndarray: ...


class CamEngine(Protocol):
    """An engine whose model also outputs Grad-CAM's map and hidden activations."""

    label: str

    @property
    def cam(self) -> Backward | None: ...

    def outputs(self, pixels: np.ndarray) -> list[np.ndarray]: ...


def run_cam(
    engine: CamEngine,
    head: Backward,
    pixels: np.ndarray,
    class_index: int | None,
    name: str,
    lock: threading.Lock | None,
) -> Explanation:
    """Grad-CAM from one forward pass of ``engine`` on ``pixels`` ``(S, S, 3)`` (raw 0-255):
    the class (default: the top-1) and its heatmap from the map and hidden activations."""
    with lock if lock is not None else contextlib.nullcontext():
        probs, maps, *hidden = engine.outputs(np.ascontiguousarray(pixels[None], np.float32))
    target = int(np.argmax(probs[0])) if class_index is None else class_index
    heat = head.heatmap(maps[0], [h[0] for h in hidden], target)
    return Explanation(name, target, heat, probs[0], engine.label)


def overlay(
    image: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = DEFAULT_OPACITY,
    resize_mode: ResizeMode = "squash",
) -> np.ndarray:
    """Blends a heatmap (OpenCV's JET colormap) over the photo the model saw.

    Returns:
        ``(H, W, 3)`` uint8: the photo's own size for "squash", its centred square for
        "crop" (the part the model saw), so overlays of different models line up.
    """
    import cv2

    photo = np.asarray(image, dtype=np.uint8)
    if resize_mode == "crop":
        photo = center_square(photo)
    height, width = photo.shape[:2]
    heat = cv2.resize(
        np.clip(heatmap, 0, 1).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
    )
    colour = cv2.cvtColor(
        cv2.applyColorMap((255 * heat).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
    )
    alpha = float(np.clip(opacity, 0, 1))
    return cv2.addWeighted(colour, alpha, photo, 1 - alpha, 0)
