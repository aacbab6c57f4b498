"""The CLI as a user runs it: a subprocess, its JSON, its exit codes and one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"
ESPRESSO = ROOT / "model_zoo" / "data" / "examples" / "espresso.jpg"


def run_cli(*args: str, weights: str = "random") -> subprocess.CompletedProcess:
    env = {**os.environ, "MODEL_ZOO_WEIGHTS": weights, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "model_zoo", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_json_document_has_every_image_and_model():
    proc = run_cli(
        "classify", str(CAT), str(ESPRESSO), "--models", "xception,resnet50", "--top", "3", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout holds nothing but the document
    assert doc["weights"] == "random"
    assert [img["image"] for img in doc["images"]] == [str(CAT), str(ESPRESSO)]
    for image in doc["images"]:
        assert [m["model"] for m in image["models"]] == ["resnet50", "xception"]
        for model in image["models"]:
            assert model["ms"] > 0
            preds = model["predictions"]
            assert len(preds) == 3
            assert all(set(p) == {"label", "class_id", "index", "score"} for p in preds)
            assert [p["score"] for p in preds] == sorted((p["score"] for p in preds), reverse=True)
            assert all(0 <= p["index"] < 1000 and p["class_id"].startswith("n") for p in preds)
        assert len(image["agreement"]["ensemble"]) == 3


@pytest.mark.slow
def test_text_output_warns_about_random_weights():
    proc = run_cli("classify", str(CAT), "--models", "resnet50", "--top", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ResNet50" in proc.stdout and " ms " in proc.stdout
    assert "random weights" in proc.stderr and "meaningless" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["classify", str(CAT), "--models", "alexnet"], "Unknown model 'alexnet'"),
        (["classify", "no-such-photo.jpg"], "no-such-photo.jpg: cannot read the file"),
        (["classify", str(ROOT / "pyproject.toml")], "not a supported image"),
        (["classify", str(CAT), "--top", "0"], "--top must be between 1 and 1000"),
        (["classify", str(CAT), "--resize", "stretch"], "invalid choice"),
        (["classify"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_bad_weights_setting_exits_2(tmp_path):
    proc = run_cli("classify", str(CAT), "--weights", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "neither 'imagenet', 'random' nor an existing folder" in proc.stderr


@pytest.mark.slow
def test_weights_folder_without_the_file_exits_2(tmp_path):
    proc = run_cli("classify", str(CAT), "--models", "vgg19", "--weights", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "vgg19_weights_tf_dim_ordering_tf_kernels.h5 is not in the weights folder" in lines[0]
