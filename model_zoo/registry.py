"""The five Keras ImageNet models: the single source of truth about each of them.

Nothing here imports Keras at module import time, so the registry can be read by the
CLI's argument checks and the UI without paying for TensorFlow's start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_WEIGHTS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app knows about one model.

    Attributes:
        name: Registry key, used in the CLI, JSON output and caches (e.g. ``"resnet50"``).
        display_name: Name shown to people (e.g. ``"ResNet50"``).
        keras_module: Sub-module of ``keras.applications`` holding the constructor and
            ``preprocess_input``.
        constructor_name: Name of the constructor inside ``keras_module``.
        input_size: Side of the square input the ImageNet weights were trained at.
        gradcam_layer: Last convolutional block, the layer Grad-CAM explains.
        weights_file: Official Keras file name of the full (with top) ImageNet weights.
        weights_file_notop: Official Keras file name of the headless weights.
        weights_url_dir: Folder of Keras' download URL for both files.
        weights_md5: MD5 Keras checks for ``weights_file``.
        size_mb: Weights size in MB (Keras applications table).
        top1: ImageNet top-1 accuracy (Keras applications table).
        top5: ImageNet top-5 accuracy (Keras applications table).
        params_m: Parameters in millions (Keras applications table).
        depth: Depth as counted in the Keras applications table.
        year: Year the architecture was published.
    """

    name: str
    display_name: str
    keras_module: str
    constructor_name: str
    input_size: int
    gradcam_layer: str
    weights_file: str
    weights_file_notop: str
    weights_url_dir: str
    weights_md5: str
    size_mb: int
    top1: float
    top5: float
    params_m: float
    depth: int
    year: int

    @property
    def module(self) -> ModuleType:
        """The ``keras.applications.<family>`` module (imports Keras on first use)."""
        return importlib.import_module(f"keras.applications.{self.keras_module}")

    @property
    def constructor(self) -> Callable[..., Any]:
        """The Keras constructor, e.g. ``keras.applications.vgg16.VGG16``."""
        return getattr(self.module, self.constructor_name)

    @property
    def preprocess_input(self) -> Callable[[Any], Any]:
        """The family's own ``preprocess_input`` (caffe or tf mode): raw 0-255 RGB in."""
        return self.module.preprocess_input

    @property
    def weights_url(self) -> str:
        """Where Keras downloads ``weights_file`` from."""
        return _WEIGHTS_BASE_URL + self.weights_url_dir + self.weights_file

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Input shape without the batch axis."""
        return (self.input_size, self.input_size, 3)


def _spec(
    name: str,
    display: str,
    module: str,
    ctor: str,
    size: int,
    layer: str,
    url_dir: str,
    md5: str,
    size_mb: int,
    top1: float,
    top5: float,
    params_m: float,
    depth: int,
    year: int,
) -> ModelSpec:
    return ModelSpec(
        name=name,
        display_name=display,
        keras_module=module,
        constructor_name=ctor,
        input_size=size,
        gradcam_layer=layer,
        weights_file=f"{name}_weights_tf_dim_ordering_tf_kernels.h5",
        weights_file_notop=f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_url_dir=url_dir,
        weights_md5=md5,
        size_mb=size_mb,
        top1=top1,
        top5=top5,
        params_m=params_m,
        depth=depth,
        year=year,
    )


# Facts: https://keras.io/api/applications/ (Size, Top-1, Top-5, Parameters, Depth).
# Grad-CAM layers: the last convolutional activation of each network; Xception's is the
# one keras-io's grad_cam example uses.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "vgg16",
            "VGG16",
            "vgg16",
            "VGG16",
            224,
            "block5_conv3",
            "vgg16/",
            "64373286793e3c8b2b4e3219cbf3544b",
            528,
            0.713,
            0.901,
            138.4,
            16,
            2014,
        ),
        _spec(
            "vgg19",
            "VGG19",
            "vgg19",
            "VGG19",
            224,
            "block5_conv4",
            "vgg19/",
            "cbe5617147190e668d6c5d5026f83318",
            549,
            0.713,
            0.900,
            143.7,
            19,
            2014,
        ),
        _spec(
            "resnet50",
            "ResNet50",
            "resnet50",
            "ResNet50",
            224,
            "conv5_block3_out",
            "resnet/",
            "2cb95161c43110f7111970584f804107",
            98,
            0.749,
            0.921,
            25.6,
            107,
            2015,
        ),
        _spec(
            "inception_v3",
            "InceptionV3",
            "inception_v3",
            "InceptionV3",
            299,
            "mixed10",
            "inception_v3/",
            "9a0d58056eeedaa3f26cb7ebd46da564",
            92,
            0.779,
            0.937,
            23.9,
            189,
            2015,
        ),
        _spec(
            "xception",
            "Xception",
            "xception",
            "Xception",
            299,
            "block14_sepconv2_act",
            "xception/",
            "0a58e3b7378bc2990ea3b43d5981f1f6",
            88,
            0.790,
            0.945,
            22.9,
            81,
            2016,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """Returns the spec of a registered model.

    Raises:
        ValueError: ``name`` is not in the registry.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Expected one of {sorted(MODELS)}.") from None


def parse_model_list(value: str) -> list[str]:
    """Parses ``"all"`` or a comma-separated list of registry names, keeping registry order.

    Raises:
        ValueError: a name is not in the registry, or the list is empty.
    """
    if value.strip().lower() == "all":
        return list(MODELS)
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    if not names:
        raise ValueError(f"No model given. Expected 'all' or some of {sorted(MODELS)}.")
    for name in names:
        get_spec(name)
    return [name for name in MODELS if name in names]
