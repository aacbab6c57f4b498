"""Grad-CAM of a fine-tuned model (raw pixels in): the backbone's last feature map, through
the head to the class logit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from model_zoo.cam_graph import split_finetuned
from model_zoo.gradcam import Explanation, function_for, gradcam_function, run_gradcam
from model_zoo.images import resize


def _finetuned_function(model: Any) -> Callable:
    """Fine-tuned models (``finetune.training.train``): explains the backbone's last feature
    map."""
    before, backbone, head = split_finetuned(model)
    dense = head[-1]

    def forward(pixels: Any) -> tuple[Any, Any]:
        x = pixels
        for layer in before:
            x = layer(x)
        maps = backbone(x, training=False)
        features = maps
        for layer in head[:-1]:
            features = layer(features, training=False)
        return maps, features

    return gradcam_function(forward, dense, int(model.input_shape[1]))


def explain_finetuned(model: Any, image: np.ndarray, class_index: int | None = None) -> Explanation:
    """Grad-CAM of a fine-tuned model (raw pixels in) for one of its classes."""
    n_classes = int(model.output_shape[-1])
    if class_index is not None and not 0 <= class_index < n_classes:
        raise ValueError(f"Class index {class_index} is out of range 0..{n_classes - 1}.")
    function = function_for(model, lambda: _finetuned_function(model))
    pixels = resize(image, int(model.input_shape[1]))
    return run_gradcam(function, pixels, class_index, model.name, None)
