"""The registry is the only place a model is described: a sixth Keras application, added
here in a test only, runs Compare, Grad-CAM and a one-epoch fine-tune; and every spec's
weights file names are the ones Keras itself would download."""

from __future__ import annotations

import numpy as np
import pytest

from model_zoo.registry import MODELS, ModelSpec

pytestmark = pytest.mark.slow

# MobileNetV3Small: other file names, its preprocessing inside the model, no Dense top
# (its classifier is a 1x1 convolution named "logits"). Facts from keras.applications.
MOBILENET = ModelSpec(
    name="mobilenet_v3_small",
    display_name="MobileNetV3Small",
    keras_module="mobilenet_v3",
    constructor_name="MobileNetV3Small",
    input_size=224,
    min_input_size=32,
    preprocess_mode="inside",
    gradcam_layer="conv_1_bn",
    classifier_layer="logits",
    weights_file="weights_mobilenet_v3_small_224_1.0_float.h5",
    weights_file_notop="weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    weights_url_dir="mobilenet_v3/",
    weights_md5="8768d4c2e7dee89b9d02b2d03d65d862",
    weights_md5_notop="d3e8ec802a04aa4fc771ee12a9a9b836",
    size_mb=10,
    top1=0.675,
    top5=0.874,
    params_m=2.5,
    depth=88,
    year=2019,
)


@pytest.fixture
def sixth(monkeypatch):
    monkeypatch.setitem(MODELS, MOBILENET.name, MOBILENET)
    return MOBILENET


class _Asked(Exception):
    """What Keras asked ``get_file`` for, instead of downloading it."""


@pytest.mark.parametrize("notop", [False, True], ids=["top", "notop"])
@pytest.mark.parametrize("spec", [*MODELS.values(), MOBILENET], ids=lambda s: s.name)
def test_the_weights_files_are_the_ones_keras_downloads(spec, notop, monkeypatch):
    from keras.src.utils import file_utils

    def asked(fname, origin, *args, file_hash=None, **kwargs):
        raise _Asked(fname, origin, file_hash)

    monkeypatch.setattr(file_utils, "get_file", asked)
    with pytest.raises(_Asked) as raised:
        spec.constructor(weights="imagenet", include_top=not notop)
    fname, origin, file_hash = raised.value.args
    expected = spec.weights(notop)
    assert (fname, origin, file_hash) == (expected.file, expected.url, expected.md5)


def test_a_sixth_model_compares_explains_and_fine_tunes(sixth, colour_dataset, cat_bytes):
    from model_zoo.compare.explain import explain
    from model_zoo.compare.inference import compare, load_classifier
    from model_zoo.finetune.settings import TrainConfig
    from model_zoo.finetune.training import train
    from model_zoo.images import load_image
    from model_zoo.weights import WeightsSource

    photo = load_image(cat_bytes)
    classifier = load_classifier(sixth.name, "random")
    [result] = compare([classifier], [photo])
    [prediction] = result.predictions
    assert prediction.model == sixth.name and len(prediction.top) == 5
    assert np.isclose(prediction.probabilities.sum(), 1.0, atol=1e-3)

    best = prediction.top[0].index  # random weights: nearly uniform, so ask for this one
    why = explain(classifier, photo, best)
    assert why.heatmap.ndim == 2 and 0.0 <= why.heatmap.min() <= why.heatmap.max() <= 1.0
    assert why.class_index == best
    np.testing.assert_allclose(why.probabilities, prediction.probabilities, atol=1e-3)

    config = TrainConfig(backbone=sixth.name, head="gap", epochs=1, batch_size=8, image_size=64)
    tuned = train(colour_dataset, config, WeightsSource("random"))
    assert len(tuned.history) == 1 and tuned.model.input_shape == (None, 64, 64, 3)
    assert tuned.evaluation.confusion.sum() == len(tuned.evaluation.labels)
