"""The Keras ImageNet models: the single source of truth about each of them. Everything that
differs between models is data here (as timm's ``PretrainedCfg``): weights file names and
checksums, preprocessing, the layers Grad-CAM reads; a sixth model is one more entry.

Nothing here imports Keras at module import time, so the registry can be read by the
CLI's argument checks and the UI without paying for TensorFlow's start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from model_zoo import runtime

_WEIGHTS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class WeightsFile:
    """One official Keras weights file: its name, the MD5 Keras checks and where it lives."""

    file: str
    md5: str
    url: str


PreprocessMode = Literal["caffe", "tf", "torch", "inside"]


@dataclass(frozen=True)
class Preprocessing:
    """How raw RGB 0–255 pixels become a family's input: channels reordered to BGR if
    ``bgr``, then ``(x * scale - mean) / std`` per channel (in the model's channel order)."""

    bgr: bool = False
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


# What each family's ``preprocess_input`` does (keras/src/applications/imagenet_utils.py);
# "inside": the model has its own preprocessing layers and takes raw pixels.
PREPROCESSING: dict[str, Preprocessing] = {
    "caffe": Preprocessing(bgr=True, mean=(103.939, 116.779, 123.68)),
    "tf": Preprocessing(scale=1 / 127.5, mean=(1.0, 1.0, 1.0)),
    "torch": Preprocessing(scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    "inside": Preprocessing(),
}


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app knows about one model.

    Attributes:
        name: Registry key, used in the CLI, JSON output and caches (e.g. ``"resnet50"``).
        display_name: Name shown to people (e.g. ``"ResNet50"``).
        keras_module: Sub-module of ``keras.applications`` holding ``preprocess_input``.
        constructor_name: Name of the constructor in ``keras.applications``.
        input_size: Side of the square input the ImageNet weights were trained at.
        min_input_size: Smallest side Keras accepts without the top (fine-tuning).
        preprocess_mode: What the family's ``preprocess_input`` does (``PREPROCESSING``):
            ``"caffe"`` (BGR, ImageNet means subtracted), ``"tf"`` (-1..1), ``"torch"``
            (0..1, ImageNet mean and std) or ``"inside"`` (the model's own layers).
        gradcam_layer: Last convolutional block, the layer Grad-CAM explains.
        weights_file: Official Keras file name of the full (with top) ImageNet weights.
        weights_file_notop: Official Keras file name of the headless weights (fine-tuning).
        weights_url_dir: Folder of Keras' download URL for both weight files.
        weights_md5: MD5 Keras checks for ``weights_file``.
        weights_md5_notop: MD5 Keras checks for ``weights_file_notop``.
        size_mb: Weights size in MB (Keras applications table).
        top1: ImageNet top-1 accuracy (Keras applications table).
        top5: ImageNet top-5 accuracy (Keras applications table).
        params_m: Parameters in millions (Keras applications table).
        depth: Depth as counted in the Keras applications table.
        year: Year the architecture was published.
        classifier_layer: The layer whose kernel and bias give the class logits from its
            input (a Dense layer, or a 1x1 convolution on pooled features).
    """

    name: str
    display_name: str
    keras_module: str
    constructor_name: str
    input_size: int
    min_input_size: int
    preprocess_mode: PreprocessMode
    gradcam_layer: str
    weights_file: str
    weights_file_notop: str
    weights_url_dir: str
    weights_md5: str
    weights_md5_notop: str
    size_mb: int
    top1: float
    top5: float
    params_m: float
    depth: int
    year: int
    classifier_layer: str = "predictions"

    @property
    def module(self) -> ModuleType:
        """The ``keras.applications.<family>`` module (imports Keras on first use)."""
        runtime.keras()  # TensorFlow and Keras imported once, under runtime's lock
        return importlib.import_module(f"keras.applications.{self.keras_module}")

    @property
    def constructor(self) -> Callable[..., Any]:
        """The Keras constructor, e.g. ``keras.applications.VGG16`` (from the top level:
        some families' public sub-modules hold only ``preprocess_input``)."""
        runtime.keras()  # TensorFlow and Keras imported once, under runtime's lock
        return getattr(importlib.import_module("keras.applications"), self.constructor_name)

    @property
    def preprocess_input(self) -> Callable[[Any], Any]:
        """The family's own ``preprocess_input`` (caffe or tf mode): raw 0-255 RGB in."""
        return self.module.preprocess_input

    @property
    def preprocessing(self) -> Preprocessing:
        return PREPROCESSING[self.preprocess_mode]

    def weights(self, notop: bool = False) -> WeightsFile:
        """The full model's weights file, or with ``notop`` the headless one (fine-tuning)."""
        file = self.weights_file_notop if notop else self.weights_file
        md5 = self.weights_md5_notop if notop else self.weights_md5
        return WeightsFile(file, md5, _WEIGHTS_BASE_URL + self.weights_url_dir + file)

    def weights_url(self, notop: bool = False) -> str:
        """Where Keras downloads the weights from."""
        return self.weights(notop).url

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Input shape without the batch axis."""
        return (self.input_size, self.input_size, 3)


# Facts: https://keras.io/api/applications/ (Size, Top-1, Top-5, Parameters, Depth); minimum
# sizes, preprocessing modes and MD5s from the keras.applications sources. Grad-CAM layers:
# each network's last convolutional activation (Xception's is keras-io grad_cam's choice).
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="vgg16",
            display_name="VGG16",
            keras_module="vgg16",
            constructor_name="VGG16",
            input_size=224,
            min_input_size=32,
            preprocess_mode="caffe",
            gradcam_layer="block5_conv3",
            weights_file="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            weights_file_notop="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            weights_url_dir="vgg16/",
            weights_md5="64373286793e3c8b2b4e3219cbf3544b",
            weights_md5_notop="6d6bbae143d832006294945121d1f1fc",
            size_mb=528,
            top1=0.713,
            top5=0.901,
            params_m=138.4,
            depth=16,
            year=2014,
        ),
        ModelSpec(
            name="vgg19",
            display_name="VGG19",
            keras_module="vgg19",
            constructor_name="VGG19",
            input_size=224,
            min_input_size=32,
            preprocess_mode="caffe",
            gradcam_layer="block5_conv4",
            weights_file="vgg19_weights_tf_dim_ordering_tf_kernels.h5",
            weights_file_notop="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
            weights_url_dir="vgg19/",
            weights_md5="cbe5617147190e668d6c5d5026f83318",
            weights_md5_notop="253f8cb515780f3b799900260a226db6",
            size_mb=549,
            top1=0.713,
            top5=0.900,
            params_m=143.7,
            depth=19,
            year=2014,
        ),
        ModelSpec(
            name="resnet50",
            display_name="ResNet50",
            keras_module="resnet50",
            constructor_name="ResNet50",
            input_size=224,
            min_input_size=32,
            preprocess_mode="caffe",
            gradcam_layer="conv5_block3_out",
            weights_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
            weights_file_notop="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            weights_url_dir="resnet/",
            weights_md5="2cb95161c43110f7111970584f804107",
            weights_md5_notop="4d473c1dd8becc155b73f8504c6f6626",
            size_mb=98,
            top1=0.749,
            top5=0.921,
            params_m=25.6,
            depth=107,
            year=2015,
        ),
        ModelSpec(
            name="inception_v3",
            display_name="InceptionV3",
            keras_module="inception_v3",
            constructor_name="InceptionV3",
            input_size=299,
            min_input_size=75,
            preprocess_mode="tf",
            gradcam_layer="mixed10",
            weights_file="inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
            weights_file_notop="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
            weights_url_dir="inception_v3/",
            weights_md5="9a0d58056eeedaa3f26cb7ebd46da564",
            weights_md5_notop="bcbd6486424b2319ff4ef7d526e38f63",
            size_mb=92,
            top1=0.779,
            top5=0.937,
            params_m=23.9,
            depth=189,
            year=2015,
        ),
        ModelSpec(
            name="xception",
            display_name="Xception",
            keras_module="xception",
            constructor_name="Xception",
            input_size=299,
            min_input_size=71,
            preprocess_mode="tf",
            gradcam_layer="block14_sepconv2_act",
            weights_file="xception_weights_tf_dim_ordering_tf_kernels.h5",
            weights_file_notop="xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
            weights_url_dir="xception/",
            weights_md5="0a58e3b7378bc2990ea3b43d5981f1f6",
            weights_md5_notop="b0042744bf5b25fce3cb969f33bebb97",
            size_mb=88,
            top1=0.790,
            top5=0.945,
            params_m=22.9,
            depth=81,
            year=2016,
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


def split_names(value: str | Sequence[str], what: str) -> list[str]:
    """A comma-separated list (or a list) of names, trimmed and lower-cased; [] when there
    is no name at all ("" or " , ").

    Raises:
        ValueError: an empty name beside others ("vgg16,,").
    """
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = [part.strip().lower() for part in parts]
    if not any(names):
        return []
    if not all(names):
        raise ValueError(f"An empty {what} name in {value!r}: remove the extra comma.")
    return names


def parse_model_list(value: str) -> list[str]:
    """Parses ``"all"`` or a comma-separated list of registry names, keeping registry order.

    Raises:
        ValueError: a name is not in the registry or empty (two commas), or the list is
            empty.
    """
    names = split_names(value, "model")
    if names == ["all"]:
        return list(MODELS)
    if not names:
        raise ValueError(f"No model given. Expected 'all' or some of {sorted(MODELS)}.")
    for name in names:
        get_spec(name)
    return [name for name in MODELS if name in names]
