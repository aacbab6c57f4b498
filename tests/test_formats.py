"""Export formats: the choice (fast), and each format's round trip, verified in its own
runtime, on a tiny trained model (slow)."""

import io
import json
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

from model_zoo.finetune.formats import FORMATS, parse_formats
from model_zoo.finetune.settings import TrainConfig
from model_zoo.weights import WeightsSource

RANDOM = WeightsSource("random")


def test_formats_take_all_or_a_list_with_keras_first():
    assert parse_formats("all") == list(FORMATS)
    assert parse_formats("onnx, LiteRT") == ["keras", "onnx", "litert"]
    assert parse_formats("keras,keras") == ["keras"]
    with pytest.raises(ValueError, match="Unknown format 'tfjs'"):
        parse_formats("onnx,tfjs")


@pytest.fixture(scope="module")
def tiny_result(colour_dataset):
    from model_zoo.finetune.training import train

    config = TrainConfig(backbone="resnet50", head="gap", epochs=2, batch_size=8, image_size=48)
    return train(colour_dataset, config, RANDOM)


@pytest.mark.slow
def test_every_format_round_trips_and_is_verified_before_it_is_offered(tiny_result, tmp_path):
    from model_zoo.artifact.export import write_export

    out = tmp_path / "out"
    paths = write_export(tiny_result, out, formats=parse_formats("all")).paths
    metrics = json.loads((out / "metrics.json").read_text())
    reports = {r["format"]: r for r in metrics["formats"]}
    assert set(reports) == {"savedmodel", "litert", "litert_int8", "onnx"}
    assert all(not r["error"] for r in reports.values()), reports
    n_check = len(tiny_result.check_pixels)
    assert n_check == 6  # the validation images
    for name in ("savedmodel", "litert", "onnx"):  # float formats: the same answers
        assert reports[name]["images"] == n_check
        assert reports[name]["agreement"] >= 0.99
        assert reports[name]["max_difference"] < 1e-3
    int8 = reports["litert_int8"]
    assert 0 <= int8["agreement"] <= 1 and int8["max_difference"] < 0.5
    assert int8["size_mb"] < reports["litert"]["size_mb"] / 3  # int8 weights
    assert {p.name for p in paths} >= {"saved_model", "model.tflite", "model_int8.tflite"}
    labels = json.loads((out / "labels.json").read_text())
    assert labels["files"] == [
        "model.keras",
        "saved_model",
        "model.tflite",
        "model_int8.tflite",
        "model.onnx",
    ]
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Other formats" in card and "Use it: LiteRT" in card and "Use it: ONNX" in card
    assert "float32 [1, 48, 48, 3]" in card
    # The card's ONNX and LiteRT snippets run as written.
    Image.new("RGB", (64, 64), (20, 200, 30)).save(out / "photo.jpg")
    for title in ("Use it: ONNX", "Use it: LiteRT ("):
        snippet = card.split(title)[1].split("```python\n")[1].split("```")[0]
        ran = subprocess.run(
            [sys.executable, "-c", snippet], cwd=out, capture_output=True, text=True, timeout=300
        )
        assert ran.returncode == 0, ran.stderr
        name, probability = ran.stdout.strip().splitlines()[-1].rsplit(" ", 1)
        assert name in tiny_result.classes and 0 < float(probability) <= 1


@pytest.mark.slow
def test_a_format_that_fails_is_one_line_and_the_others_still_come(
    tiny_result, tmp_path, monkeypatch
):
    from model_zoo.artifact.export import export_zip

    # Too little for TensorFlow to start: it fails at once, whatever the CPU. (With 1.5 GB it
    # started, and on one CPU the conversion then spun for minutes under the limit.)
    monkeypatch.setenv("MODEL_ZOO_EXPORT_MEMORY_GB", "0.4")
    data = export_zip(tiny_result, formats=["keras", "onnx"]).data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        metrics = json.loads(zf.read("metrics.json"))
    assert "model.keras" in names and "model.onnx" not in names
    [report] = metrics["formats"]
    assert report["format"] == "onnx" and report["file"] == ""
    assert report["error"].startswith("conversion failed")
    assert "\n" not in report["error"] and "Traceback" not in report["error"]


@pytest.mark.slow
def test_the_export_zip_holds_the_savedmodel_folder(tiny_result):
    from model_zoo.artifact.export import export_zip

    data = export_zip(tiny_result, formats=["savedmodel"]).data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
    assert {"saved_model/saved_model.pb", "model.keras", "MODEL_CARD.md"} <= names
    assert any(n.startswith("saved_model/variables/") for n in names)


@pytest.mark.slow
def test_a_conversion_past_its_time_limit_is_ended_and_leaves_nothing(tmp_path):
    import time

    import numpy as np

    from model_zoo.finetune.formats import export_formats
    from tests.conftest import processes_naming

    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"never read: the child is ended while TensorFlow loads")
    start = time.monotonic()
    [report] = export_formats(model_file, tmp_path, ["onnx"], np.zeros((1, 8, 8, 3)), timeout=1)
    assert time.monotonic() - start < 15
    assert report.error == "conversion took over 1 s and was ended"
    assert processes_naming(model_file) == []
