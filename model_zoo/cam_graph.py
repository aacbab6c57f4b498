"""The Keras side of engine Grad-CAM (``cam``), run where the model is converted (a child
process with TensorFlow): the head after the explained layer as matrices, and the traced
function whose outputs are ``[probabilities, map, *hidden activations]`` that becomes the
OpenVINO IR. A head it cannot express (an activation other than ReLU, a convolution) gives
None: that model is then explained on TensorFlow, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.cam import CamHead
from model_zoo.registry import ModelSpec

Forward = Callable[[Any], list[Any]]


def _kernel(layer: Any) -> np.ndarray:
    return np.asarray(layer.kernel, dtype=np.float32)


def cam_head(chain: Sequence[Any]) -> tuple[CamHead, list[Any]] | None:
    """The head ``chain`` (the layers after the explained map, in order) as a ``CamHead``,
    with its hidden Dense layers (the IR outputs their activations); None where unsupported.
    """
    keras = runtime.keras()
    matrices: list[np.ndarray] = []
    hidden: list[Any] = []
    flat_shape: tuple[int, ...] | None = None
    pooled = False
    for position, layer in enumerate(chain):
        last = position == len(chain) - 1
        if isinstance(layer, keras.layers.Dropout) or (
            isinstance(layer, keras.layers.MaxPooling2D) and not pooled and not matrices
        ):
            continue
        if isinstance(layer, keras.layers.GlobalAveragePooling2D) and not matrices:
            if getattr(layer, "keepdims", False):
                return None
            pooled = True
        elif isinstance(layer, keras.layers.Flatten) and not matrices and not pooled:
            flat_shape = tuple(int(d) for d in layer.input.shape[1:])
            pooled = True
        elif isinstance(layer, keras.layers.Dense) and pooled:
            kernel = _kernel(layer)
            if not matrices and flat_shape is not None:  # summed over the positions read
                kernel = kernel.reshape(*flat_shape, -1).sum(axis=(0, 1))
            activation = getattr(layer.activation, "__name__", "")
            if not last and activation != "relu":
                return None
            matrices.append(kernel)
            if not last:
                hidden.append(layer)
        else:
            return None
    if not matrices or not isinstance(chain[-1], keras.layers.Dense):
        return None
    return CamHead(tuple(matrices)), hidden


def compare_forward(spec: ModelSpec, model: Any) -> tuple[Forward, CamHead | None]:
    """A Compare model's forward pass with the Grad-CAM outputs, and its head (or None,
    with probabilities alone)."""
    keras = runtime.keras()
    names = [layer.name for layer in model.layers]
    maps_layer = model.get_layer(spec.gradcam_layer)
    found = cam_head(model.layers[names.index(spec.gradcam_layer) + 1 :])
    outputs = [model.output]
    if found is not None:
        outputs += [maps_layer.output, *(layer.output for layer in found[1])]
    view = keras.Model(model.inputs, outputs, name=f"{model.name}_cam_view")
    preprocess = spec.preprocess_input

    def forward(pixels: Any) -> list[Any]:
        out = view(preprocess(pixels), training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    return forward, found[0] if found else None


def split_finetuned(model: Any) -> tuple[list[Any], Any, list[Any]]:
    """A fine-tuned model's layers, as ``finetune.model.assemble`` lays them out: those
    before the backbone (preprocessing), the backbone, and the head's layers."""
    keras = runtime.keras()
    layers = model.layers[1:]  # after the input
    split = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.Model))
    return layers[:split], layers[split], layers[split + 1 :]


def finetuned_forward(model: Any) -> tuple[Forward, CamHead | None]:
    """A fine-tuned model's (``finetune.model.assemble``) forward pass with the backbone's
    last map and the head's hidden activations, and its head (or None)."""
    before, backbone, chain = split_finetuned(model)
    found = cam_head(chain)
    wanted = {id(layer) for layer in found[1]} if found else set()

    def forward(pixels: Any) -> list[Any]:
        x = pixels
        for layer in before:
            x = layer(x)
        maps = x = backbone(x, training=False)
        hidden = []
        for layer in chain:
            x = layer(x, training=False)
            if id(layer) in wanted:
                hidden.append(x)
        return [x, maps, *hidden] if found else [x]

    return forward, found[0] if found else None


def traced(forward: Forward, size: int) -> Any:
    """``forward`` traced for any batch of ``size`` × ``size`` raw pixels (for conversion)."""
    tf = runtime.tensorflow()
    function = tf.function(lambda pixels: forward(pixels))
    return function.get_concrete_function(
        tf.TensorSpec([None, size, size, 3], tf.float32, name="pixels")
    )
