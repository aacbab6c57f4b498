"""Weight sources: the setting, a local folder of official files, and a failed download."""

import numpy as np
import pytest

from model_zoo.compare.inference import load_classifier
from model_zoo.registry import MODELS
from model_zoo.weights import MissingWeightsError, WeightsSource, weights_source


@pytest.mark.parametrize(
    ("value", "kind"),
    [("", "imagenet"), ("imagenet", "imagenet"), ("ImageNet", "imagenet"), ("random", "random")],
)
def test_weights_setting(value, kind):
    assert weights_source(value).kind == kind


def test_weights_setting_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))
    source = weights_source()
    assert source == WeightsSource("folder", tmp_path.resolve())
    assert (
        source.local_file(MODELS["vgg16"])
        == tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    )


def test_weights_setting_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="neither 'imagenet', 'random' nor an existing folder"):
        weights_source(str(tmp_path / "nope"))


@pytest.mark.slow
def test_folder_of_official_files_loads_those_weights(tmp_path, classifiers, rng):
    """A file written in Keras' legacy .h5 layout under the official name is what loads."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    original = classifiers["resnet50"]
    with h5py.File(tmp_path / MODELS["resnet50"].weights_file, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, original.keras_model())
    loaded = load_classifier("resnet50", str(tmp_path))
    assert loaded.weights.kind == "folder"
    pixels = rng.uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(
        loaded.probabilities(pixels), original.probabilities(pixels), rtol=1e-5, atol=1e-7
    )


@pytest.mark.slow
def test_folder_without_the_file_names_it(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        load_classifier("xception", str(tmp_path))
    message = str(info.value)
    assert "xception_weights_tf_dim_ordering_tf_kernels.h5 is not in the weights folder" in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/xception/" in message


@pytest.mark.slow
def test_failed_imagenet_download_says_what_is_missing(monkeypatch, tmp_path):
    """Offline: Keras' download raises; we say which file and how to provide it."""
    import keras

    def offline(fname, origin, **kwargs):
        raise Exception(
            f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(MissingWeightsError) as info:
        load_classifier("resnet50", "imagenet")
    message = str(info.value)
    assert message.startswith(
        "ResNet50 weights are missing: "
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5 could not be "
        "downloaded (no internet connection)"
    )
    assert str(tmp_path / "models") in message
    assert "MODEL_ZOO_WEIGHTS" in message


@pytest.mark.slow
def test_damaged_file_in_the_folder_is_reported(tmp_path):
    (tmp_path / MODELS["resnet50"].weights_file).write_bytes(b"not an HDF5 file" * 100)
    with pytest.raises(MissingWeightsError, match=r"ResNet50 weights in .* could not be read"):
        load_classifier("resnet50", str(tmp_path))


OFFLINE = "no internet connection"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("URL fetch failure on u: None -- [Errno -2] Name or service not known", OFFLINE),
        (
            "URL fetch failure on u: None -- [Errno -3] Temporary failure in name resolution",
            OFFLINE,
        ),
        ("URL fetch failure on u: None -- [Errno 101] Network is unreachable", OFFLINE),
        ("URL fetch failure on u: 403 -- Forbidden", "Forbidden"),
        ("", "Exception"),
    ],
)
def test_download_failures_read_as_people_say_them(error, reason):
    from model_zoo.weights import download_failure_reason

    assert download_failure_reason(Exception(error)) == reason


def test_where_to_put_the_files_is_one_line_with_every_url():
    from model_zoo.weights import how_to_provide

    specs = [MODELS["vgg16"], MODELS["xception"]]
    text = how_to_provide(specs)
    assert "\n" not in text
    assert all(spec.weights_url() in text for spec in specs)
    assert "Put them in" in text
