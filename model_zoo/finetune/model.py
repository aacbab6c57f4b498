"""The fine-tuned model, assembled from standard Keras layers: the backbone's preprocessing
as a layer, the frozen backbone, a head; augmentation and unfreezing for training."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_zoo import runtime
from model_zoo.finetune.settings import HEAD_SPECS, TrainConfig
from model_zoo.registry import ModelSpec
from model_zoo.weights import WeightsSource


def preprocessing_layer(spec: ModelSpec) -> Any:
    """The family's ``preprocess_input`` (``spec.preprocessing``) as a built-in, frozen Keras
    layer: ``Rescaling`` for tf mode, a fixed 1×1 convolution for the others (channel order,
    scale, mean and std in one affine map), ``Identity`` where the model preprocesses itself.
    Built-in layers serialise without custom objects or a ``Lambda``.
    """
    keras = runtime.keras()
    if spec.preprocess_mode == "inside":
        return keras.layers.Identity(name="preprocess")
    pre = spec.preprocessing
    if spec.preprocess_mode == "tf":
        return keras.layers.Rescaling(pre.scale, offset=-pre.mean[0], name="preprocess")
    layer = keras.layers.Conv2D(3, 1, name="preprocess", trainable=False)
    layer.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    std, mean = np.asarray(pre.std, np.float32), np.asarray(pre.mean, np.float32)
    for out_channel in range(3):
        in_channel = 2 - out_channel if pre.bgr else out_channel
        kernel[0, 0, in_channel, out_channel] = pre.scale / std[out_channel]
    layer.set_weights([kernel, -mean / std])
    return layer


def head_layers(head: str, n_classes: int, seed: int = 0) -> list[Any]:
    """The layers of ``HEAD_SPECS[head]``; the first turns the backbone's feature map into
    a vector."""
    keras = runtime.keras()
    if head not in HEAD_SPECS:
        raise ValueError(f"Unknown head {head!r}. Expected one of {sorted(HEAD_SPECS)}.")
    spec = HEAD_SPECS[head]
    layers = [
        keras.layers.GlobalAveragePooling2D(name="avg_pool")
        if spec.pooled
        else keras.layers.Flatten(name="flatten")
    ]
    if spec.hidden:
        layers.append(keras.layers.Dense(spec.hidden, activation="relu", name="dense"))
    if spec.dropout:
        layers.append(keras.layers.Dropout(spec.dropout, seed=seed, name="dropout"))
    return [*layers, keras.layers.Dense(n_classes, activation="softmax", name="predictions")]


def head_model(head: list[Any], features_shape: tuple[int, ...]) -> Any:
    """A model of ``head``'s layers after its first, on cached features; it shares them."""
    keras = runtime.keras()
    features_in = keras.Input(features_shape, name="features")
    x = features_in
    for layer in head[1:]:
        x = layer(x)
    return keras.Model(features_in, x, name="head")


@dataclass
class Head:
    """A head's layers before any backbone: trained on cached features first, then put on
    the backbone by ``assemble(…, head=…)``."""

    head: list[Any]

    def head_model(self, features_shape: tuple[int, ...]) -> Any:
        return head_model(self.head, features_shape)


def build_backbone(spec: ModelSpec, weights: WeightsSource, size: int) -> Any:
    """A fresh, frozen, headless backbone (never the shared Compare models)."""
    backbone = spec.constructor(
        include_top=False,
        input_shape=(size, size, 3),
        weights=weights.keras_argument(spec, notop=True),
    )
    backbone.trainable = False
    return backbone


def strategy() -> Any:
    """Several machines (``TF_CONFIG`` set): MultiWorkerMirrored; several GPUs: Mirrored."""
    tf = runtime.tensorflow()
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


@dataclass
class FineTuned:
    """The model a run trains and returns, and the parts that stages train separately.

    Attributes:
        model: Raw RGB pixels (0-255) in, class probabilities out.
        backbone: The frozen backbone inside ``model``.
        head: The head's layers; the first turns the feature map into a vector.
    """

    model: Any
    backbone: Any
    head: list[Any]

    def head_model(self, features_shape: tuple[int, ...]) -> Any:
        """The head after its first layer, on cached (pooled or flattened) features: it
        shares its layers, so training it trains ``model``."""
        return head_model(self.head, features_shape)

    def with_augmentation(self, config: TrainConfig) -> Any:
        """The model to fit on images: ``model`` itself, or flip/rotation/zoom in front."""
        keras = runtime.keras()
        if not config.augment:
            return self.model
        augment = keras.Sequential(
            [
                keras.layers.RandomFlip("horizontal", seed=config.seed),
                keras.layers.RandomRotation(0.1, seed=config.seed),
                keras.layers.RandomZoom(0.1, seed=config.seed),
            ],
            name="augment",
        )
        pixels_in = keras.Input(self.model.input_shape[1:], name="pixels")
        return keras.Model(
            pixels_in, self.model(augment(pixels_in)), name=f"{self.model.name}_augmented"
        )

    def unfreeze_top(self, n_layers: int) -> None:
        """Makes the top ``n_layers`` of the backbone trainable, BatchNorm excepted."""
        keras = runtime.keras()
        self.backbone.trainable = True
        layers = self.backbone.layers
        for i, layer in enumerate(layers):
            frozen_part = i < len(layers) - n_layers
            layer.trainable = not frozen_part and not isinstance(
                layer, keras.layers.BatchNormalization
            )


def assemble(
    config: TrainConfig,
    weights: WeightsSource,
    n_classes: int,
    backbone: Any = None,
    head: list[Any] | None = None,
) -> FineTuned:
    """A fresh backbone (never the shared Compare models) with preprocessing and a head.

    A leaderboard passes the frozen ``backbone`` it built once for several heads; a run on
    cached features passes the ``head`` it trained already (``Head``).
    """
    keras = runtime.keras()
    spec, size = config.spec, config.size
    if backbone is None:
        backbone = build_backbone(spec, weights, size)
    if head is None:
        # The head starts from the seed whether the backbone was built here or shared, so
        # a leaderboard's combination trains as its single run does.
        keras.utils.set_random_seed(config.seed)
        head = head_layers(config.head, n_classes, config.seed)
    pixels_in = keras.Input((size, size, 3), name="pixels")  # raw RGB, 0-255
    x = backbone(preprocessing_layer(spec)(pixels_in), training=False)  # BatchNorm: inference
    for layer in head:
        x = layer(x)
    return FineTuned(keras.Model(pixels_in, x, name=f"{spec.name}_{config.head}"), backbone, head)
