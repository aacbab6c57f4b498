"""Grad-CAM of the Compare models. On OpenVINO the shared compiled model already outputs
what Grad-CAM needs (``gradcam.run_cam``): no TensorFlow. On TensorFlow (the fallback) each
shared model gets its own read-only *view*, a new Keras model from the same input to [the
registry's Grad-CAM layer, the input of its classifier layer], so the shared models are
never modified.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from model_zoo import runtime
from model_zoo.compare.inference import Classifier
from model_zoo.gradcam import (
    _FUNCTIONS,
    _FUNCTIONS_LOCK,
    CamEngine,
    Explanation,
    function_for,
    gradcam_function,
    run_cam,
    run_gradcam,
)
from model_zoo.images import ResizeMode, resize


def _classifier_function(classifier: Classifier) -> Callable:
    keras = runtime.keras()
    model = classifier.keras_model()
    dense = model.get_layer(classifier.spec.classifier_layer)
    view = keras.Model(
        model.inputs,
        [model.get_layer(classifier.spec.gradcam_layer).output, dense.input],
        name=f"{model.name}_gradcam_view",
    )
    preprocess = classifier.spec.preprocess_input
    return gradcam_function(
        lambda px: view(preprocess(px), training=False), dense, classifier.spec.input_size
    )


def _engine_cam(classifier: Classifier) -> CamEngine | None:
    """The classifier's engine when it explains by itself (an IR with Grad-CAM's outputs)."""
    engine = classifier.engine
    return engine if getattr(engine, "cam", None) is not None else None  # type: ignore[return-value]


def gradcam_ready(classifier: Classifier) -> bool:
    """Whether this model's Grad-CAM is ready: on its engine at once; on TensorFlow once
    built (the first one loads the Keras model and traces; seconds, once per model)."""
    if _engine_cam(classifier) is not None:
        return True
    with _FUNCTIONS_LOCK:
        return classifier in _FUNCTIONS


def prepare_gradcam(classifier: Classifier) -> None:
    """Makes this model's Grad-CAM ready now (``explain`` would on its first call)."""
    if _engine_cam(classifier) is None:
        function_for(classifier, lambda: _classifier_function(classifier))


def explain(
    classifier: Classifier,
    image: np.ndarray,
    class_index: int | None = None,
    resize_mode: ResizeMode = "squash",
) -> Explanation:
    """Grad-CAM of a Compare model for one class (default: its top-1) on an RGB image.

    Raises:
        ValueError: ``class_index`` is outside 0..999.
    """
    if class_index is not None and not 0 <= class_index < 1000:
        raise ValueError(f"Class index {class_index} is out of range 0..999.")
    pixels = resize(image, classifier.spec.input_size, resize_mode)
    engine = _engine_cam(classifier)
    if engine is not None and engine.cam is not None:
        return run_cam(engine, engine.cam, pixels, class_index, classifier.name, classifier.lock)
    function = function_for(classifier, lambda: _classifier_function(classifier))
    return run_gradcam(function, pixels, class_index, classifier.name, classifier.lock)


__all__ = ["Explanation", "explain", "gradcam_ready", "prepare_gradcam"]
