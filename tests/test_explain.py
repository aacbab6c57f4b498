"""Grad-CAM: heatmap values, classes, overlays, the shared models untouched, CLI and page."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo.compare.explain import explain
from model_zoo.finetune.explain import explain_finetuned
from model_zoo.gradcam import overlay
from model_zoo.images import load_image
from model_zoo.registry import MODELS
from tests.conftest import run_model_zoo

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"


def test_overlay_keeps_the_photos_size_and_blends():
    photo = np.full((30, 50, 3), 120, np.uint8)
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    blended = overlay(photo, heat, 0.5)
    assert blended.shape == (30, 50, 3) and blended.dtype == np.uint8
    assert np.array_equal(overlay(photo, heat, 0.0), photo)  # opacity 0: the photo itself
    assert not np.array_equal(blended[0, 0], blended[0, -1])  # cold and hot corners differ
    assert overlay(photo, heat, 0.5, "crop").shape == (30, 30, 3)  # what the model saw


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_heatmap_for_every_model(classifiers, cat_bytes, name):
    classifier = classifiers[name]
    photo = load_image(cat_bytes)
    before = classifier.probabilities(np.full((1, *classifier.spec.input_shape), 99, np.float32))
    layers_before = len(classifier.keras_model().layers)

    top1 = explain(classifier, photo)
    expected = classifier.keras_model().get_layer(classifier.spec.gradcam_layer).output.shape[1:3]
    assert top1.heatmap.shape == tuple(expected)
    assert top1.heatmap.dtype == np.float32
    assert top1.heatmap.min() >= 0.0 and top1.heatmap.max() <= 1.0
    assert top1.heatmap.std() > 1e-3  # not constant on a real photo
    [pred] = classifier.classify([photo])
    assert top1.class_index == pred.top[0].index
    assert top1.score == pytest.approx(pred.top[0].score, rel=1e-3)

    other_class = pred.top[1].index
    other = explain(classifier, photo, other_class)
    assert other.class_index == other_class
    assert not np.allclose(other.heatmap, top1.heatmap, atol=1e-3)  # another class, another map

    # the shared model is untouched: same layers, same outputs
    assert len(classifier.keras_model().layers) == layers_before
    after = classifier.probabilities(np.full((1, *classifier.spec.input_shape), 99, np.float32))
    np.testing.assert_array_equal(before, after)


@pytest.mark.slow
def test_explain_refuses_a_class_out_of_range(classifiers, cat_bytes):
    with pytest.raises(ValueError, match=r"out of range 0\.\.999"):
        explain(classifiers["resnet50"], load_image(cat_bytes), 1000)


@pytest.mark.slow
def test_fine_tuned_model_is_explained_too(colour_dataset, cat_bytes, tmp_path):
    from model_zoo.artifact.export import write_export
    from model_zoo.artifact.exported import Exported
    from model_zoo.finetune.settings import TrainConfig
    from model_zoo.finetune.training import train
    from model_zoo.weights import WeightsSource
    from tests.conftest import load_exported

    result = train(
        colour_dataset,
        TrainConfig(backbone="vgg16", head="dense_dropout", epochs=1, image_size=64),
        WeightsSource("random"),
    )
    photo = load_image(cat_bytes)
    why = explain_finetuned(result.model, photo)
    assert why.heatmap.shape == (2, 2)  # VGG16's last feature map at 64 px
    assert why.heatmap.min() >= 0.0 and why.heatmap.max() <= 1.0
    predicted = Exported.from_result(result, 0.5).predict([photo], calibrated=False)[0]
    assert why.class_index == int(np.argmax(predicted))
    np.testing.assert_allclose(why.probabilities, predicted, rtol=1e-4, atol=1e-6)
    write_export(result, tmp_path)  # a reloaded model explains the same way
    again = explain_finetuned(load_exported(tmp_path / "model.keras"), photo)
    np.testing.assert_allclose(again.heatmap, why.heatmap, atol=1e-4)
    with pytest.raises(ValueError, match=r"out of range 0\.\.2"):
        explain_finetuned(result.model, photo, 3)


def run_explain(*args: str) -> subprocess.CompletedProcess:
    return run_model_zoo("explain", *args)


@pytest.mark.slow
def test_cli_writes_the_overlay_png(tmp_path):
    out = tmp_path / "heat.png"
    proc = run_explain(str(CAT), "--model", "xception", "--class", "tabby", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "explained tabby (class 281" in proc.stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (451, 300)  # the photo's own size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "xception", "--class", "unicorn"], "Unknown ImageNet class 'unicorn'"),
        (["--model", "alexnet"], "Unknown model 'alexnet'"),
        (["--model", "vgg16", "--class", "1000"], "out of range 0..999"),
        (["--model", "vgg16", "--opacity", "2"], "--opacity must be between 0 and 1"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, args, message):
    proc = run_explain(str(CAT), *args, "--out", str(tmp_path / "h.png"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "h.png").exists()


def test_cli_refuses_a_bad_image_and_a_bad_out(tmp_path):
    proc = run_explain(
        str(ROOT / "README.md"), "--model", "vgg16", "--out", str(tmp_path / "h.png")
    )
    assert proc.returncode == 2 and "not a supported image" in proc.stderr
    proc = run_explain(str(CAT), "--model", "vgg16", "--out", str(tmp_path / "h.jpg"))
    assert proc.returncode == 2 and "must name a .png file" in proc.stderr


@pytest.mark.slow
def test_explaining_every_model_twice_traces_each_once_and_logs_no_retracing(
    classifiers, cat_bytes, caplog
):
    import logging

    image = load_image(cat_bytes)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            for name in MODELS:
                explain(classifiers[name], image)
            explain(classifiers["resnet50"], image, class_index=3)
    assert "retracing" not in caplog.text
