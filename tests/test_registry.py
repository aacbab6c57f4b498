"""Fast, table-driven checks of the registry against Keras itself (no model is built)."""

import inspect

import keras
import numpy as np
import pytest

from model_zoo.registry import MODELS, get_spec, parse_model_list

EXPECTED = {
    # name: (keras module, input size)
    "vgg16": (keras.applications.vgg16, 224),
    "vgg19": (keras.applications.vgg19, 224),
    "resnet50": (keras.applications.resnet50, 224),
    "inception_v3": (keras.applications.inception_v3, 299),
    "xception": (keras.applications.xception, 299),
}


def test_registry_holds_exactly_the_five_models():
    assert list(MODELS) == ["vgg16", "vgg19", "resnet50", "inception_v3", "xception"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_preprocessing_is_the_familys_own(name, rng):
    module, size = EXPECTED[name]
    spec = MODELS[name]
    pixels = rng.uniform(0, 255, size=(2, size, size, 3)).astype(np.float32)
    ours = np.asarray(spec.preprocess_input(pixels.copy()))
    theirs = np.asarray(module.preprocess_input(pixels.copy()))
    np.testing.assert_array_equal(ours, theirs)
    assert spec.input_size == size
    assert spec.constructor is getattr(module, spec.constructor_name)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_weights_file_is_the_one_keras_downloads(name):
    spec = MODELS[name]
    keras_source = inspect.getsource(inspect.getmodule(spec.constructor))
    assert spec.weights_md5 in keras_source
    assert spec.weights_md5_notop in keras_source
    assert spec.weights_url_dir in keras_source
    assert spec.weights_url().endswith("/" + spec.weights_file)
    assert spec.weights_url(notop=True).endswith("/" + spec.weights_file_notop)
    assert f"min_size={spec.min_input_size}," in keras_source
    assert f'mode="{spec.preprocess_mode}"' in keras_source


def test_facts_follow_the_keras_table():
    assert MODELS["xception"].top1 == pytest.approx(0.790)
    assert MODELS["vgg16"].size_mb == 528
    assert MODELS["inception_v3"].top5 == pytest.approx(0.937)
    assert MODELS["xception"].gradcam_layer == "block14_sepconv2_act"


def test_unknown_model_error_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown model 'alexnet'\. Expected one of \["):
        get_spec("alexnet")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", list(MODELS)),
        ("xception,vgg16", ["vgg16", "xception"]),
        (" ResNet50 ", ["resnet50"]),
    ],
)
def test_parse_model_list(text, expected):
    assert parse_model_list(text) == expected


@pytest.mark.parametrize("text", ["", ",", "vgg16,lenet", "vgg16,,", ",resnet50", "all,vgg16"])
def test_parse_model_list_refuses(text):
    with pytest.raises(ValueError):
        parse_model_list(text)


@pytest.mark.parametrize("name", list(MODELS))
def test_weights_says_file_md5_and_url_in_one_place(name):
    spec = MODELS[name]
    full, headless = spec.weights(), spec.weights(notop=True)
    assert (full.file, full.md5) == (spec.weights_file, spec.weights_md5)
    assert (headless.file, headless.md5) == (spec.weights_file_notop, spec.weights_md5_notop)
    assert full.url.endswith("/" + full.file) and headless.url.endswith("/" + headless.file)
    assert full.url.rsplit("/", 1)[0] == headless.url.rsplit("/", 1)[0]
