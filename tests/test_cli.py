"""The CLI as a user runs it: a subprocess, its JSON, its exit codes and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_model_zoo

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "model_zoo" / "data" / "examples" / "cat.jpg"
ESPRESSO = ROOT / "model_zoo" / "data" / "examples" / "espresso.jpg"


def run_cli(*args: str, weights: str = "random") -> subprocess.CompletedProcess:
    return run_model_zoo(*args, MODEL_ZOO_WEIGHTS=weights)


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
    assert doc["engines"] == {"resnet50": "OpenVINO f32", "xception": "OpenVINO f32"}


@pytest.mark.slow
def test_both_engines_give_the_same_answer():
    """The same shared random weights on either engine: the same classes, scores within
    float rounding (f32 in the tests)."""
    args = ("classify", str(CAT), "--models", "xception,resnet50", "--top", "5", "--json")
    docs = {}
    for engine in ("openvino", "tensorflow"):
        proc = run_cli(*args, "--engine", engine)
        assert proc.returncode == 0, proc.stderr
        docs[engine] = json.loads(proc.stdout)
    assert set(docs["tensorflow"]["engines"].values()) == {"TensorFlow"}
    ours, theirs = (docs[e]["images"][0]["models"] for e in ("openvino", "tensorflow"))
    for a, b in zip(ours, theirs, strict=True):
        assert [p["index"] for p in a["predictions"]] == [p["index"] for p in b["predictions"]]
        for p, q in zip(a["predictions"], b["predictions"], strict=True):
            assert p["score"] == pytest.approx(q["score"], abs=1e-4)


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
        (["classify", str(CAT), "--engine", "onnx"], "invalid choice"),
        (["classify", str(CAT), "--precision", "int4"], "invalid choice"),
        (["classify"], "required"),
        (["frobnicate"], "invalid choice"),
        (["classify", str(CAT), "--models", "vgg16,,"], "An empty model name in 'vgg16,,'"),
        (["classify", str(CAT), "--models", ",resnet50"], "An empty model name"),
        (["classify", str(CAT), "--csv", str(ROOT)], "is a folder, not a file"),
        (["classify", str(CAT), "--csv", "/no/such/dir/x.csv"], "the folder /no/such/dir does"),
        (["predict", str(ROOT), str(CAT), "--csv", str(ROOT)], "is a folder, not a file"),
        (["finetune", "d.zip", "--out", "o", "--seed", "-1"], "Seed must be 0..4294967295"),
        (["finetune", "d.zip", "--out", "o", "--seed", str(2**70)], "Seed must be 0..4294967295"),
        (["finetune", "d.zip", "--out", "/dev/null/x"], "/dev/null is not a folder"),
        (["finetune", "/dev/null", "--out", "/tmp/x"], "/dev/null: a device, not a file"),
        (["leaderboard", "d.zip", "--out", "o", "--heads", "gap,,"], "An empty head name"),
        (["leaderboard", "d.zip", "--out", "o", "--seed", "-5"], "Seed must be 0..4294967295"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_bad_engine_setting_exits_2():
    proc = run_model_zoo("classify", str(CAT), MODEL_ZOO_ENGINE="onnx")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: Unknown engine 'onnx'. Expected one of ['auto', 'openvino', 'tensorflow']."
    )


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


def run_on_zip(command: str, tmp_path, data: bytes, *args: str) -> subprocess.CompletedProcess:
    """Runs ``command DATA.zip ARGS`` with its own TMPDIR, so leftovers of the job folder
    are visible."""
    zip_path = tmp_path / "data.zip"
    zip_path.write_bytes(data)
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return run_model_zoo(command, str(zip_path), *args, TMPDIR=str(scratch))


def run_finetune(tmp_path, data: bytes, *args: str) -> subprocess.CompletedProcess:
    return run_on_zip("finetune", tmp_path, data, *args)


@pytest.mark.slow
def test_finetune_prints_json_lines_and_writes_a_reloadable_model(tmp_path):
    from tests.conftest import colour_class_zip

    out = tmp_path / "out"
    proc = run_finetune(
        tmp_path,
        colour_class_zip(),
        "--backbone",
        "resnet50",
        "--epochs",
        "3",
        "--image-size",
        "48",
        "--batch-size",
        "8",
        "--no-early-stopping",
        "--out",
        str(out),
        "--json-progress",
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    for line in lines:
        assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(line)
        assert 0 <= line["val_accuracy"] <= 1 and line["seconds"] > 0
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "labels.json",
        "metrics.json",
        "model.keras",
    ]
    labels = json.loads((out / "labels.json").read_text())
    assert labels["classes"] == ["class_a", "class_b", "class_c"]
    assert labels["input_size"] == 48
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 3 and metrics["test_images"] == 3
    assert metrics["split"] == {"train": 15, "validation": 6, "test": 3}
    low, high = metrics["test_interval"]
    assert low <= metrics["test_accuracy"] <= high
    assert labels["threshold"] == 0.5 and labels["temperature"] == metrics["temperature"]
    # The model card's "Load it" snippet runs as written and answers a class or "not sure".
    from PIL import Image

    snippet = (out / "MODEL_CARD.md").read_text().split("```python\n")[1].split("```")[0]
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out / "photo.jpg")
    ran = subprocess.run(
        [sys.executable, "-c", snippet], cwd=out, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    answer, probability = ran.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert answer in ("class_a", "class_b", "class_c", "not sure")
    assert 0 < float(probability) <= 1
    assert list((tmp_path / "tmp").iterdir()) == []  # the job folder is gone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "Epochs must be 1..100"),
        (["--backbone", "lenet"], "Unknown model 'lenet'"),
        (["--head", "mlp"], "Unknown head 'mlp'"),
        (["--image-size", "20"], "Image size for ResNet50 must be 32..224"),
        (["--val-split", "0.9"], "Validation split"),
        (["--lr", "fast"], "invalid float value"),
    ],
)
def test_finetune_bad_settings_exit_2(tmp_path, args, message):
    proc = run_finetune(tmp_path, b"unused", *args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../evil.jpg": b"x", "a/1.jpg": b"x"}, "points outside the archive"),
        ({"only/1.jpg": b"x"}, "not a usable image|at least"),
    ],
)
def test_finetune_refused_zip_exits_2_and_writes_nothing(tmp_path, entries, message):
    import io
    import re
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    proc = run_finetune(tmp_path, buf.getvalue(), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "out").exists()


def test_finetune_truncated_zip_exits_2(tmp_path):
    proc = run_finetune(tmp_path, b"PK\x03\x04 truncated", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("not a zip file, or a truncated or damaged one")


def test_a_tiff_that_makes_libtiff_complain_still_gives_one_line(tmp_path):
    from tests.conftest import libtiff_complaining_tiff

    tiff = tmp_path / "damaged.tif"
    tiff.write_bytes(libtiff_complaining_tiff())
    proc = run_cli("classify", str(tiff))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {tiff}: not a usable image (decoder error -2)"]
    # The same run with the chatter kept shows what is being hidden (libtiff's own line).
    chatty = run_model_zoo("classify", str(tiff), MODEL_ZOO_DEBUG="1")
    assert "ZIPDecode" in chatty.stderr and len(chatty.stderr.splitlines()) > 1


def test_a_tiff_that_makes_pillow_log_an_error_still_gives_one_line(tmp_path):
    from tests.conftest import too_many_samples_tiff

    tiff = tmp_path / "samples.tif"
    tiff.write_bytes(too_many_samples_tiff())
    proc = run_cli("classify", str(tiff))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {tiff}: not a supported image; expected JPEG, PNG, WebP, GIF, BMP or TIFF"
    ]
    chatty = run_model_zoo("classify", str(tiff), MODEL_ZOO_DEBUG="1")
    assert "More samples per pixel than can be decoded" in chatty.stderr


@pytest.mark.slow
def test_two_workers_on_this_machine_train_one_model(tmp_path):
    """TF_CONFIG: two CLI workers on 127.0.0.1 (MultiWorkerMirroredStrategy on the CPU)."""
    import os
    import socket
    import sys

    from tests.conftest import ROOT as REPO
    from tests.conftest import colour_class_zip

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    data = tmp_path / "data.zip"
    data.write_bytes(colour_class_zip())
    cluster = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "MODEL_ZOO_WEIGHTS": "random",
            "PYTHONPATH": str(REPO),
            "TF_CONFIG": json.dumps(tf_config),
        }
        args = ["finetune", str(data), "--backbone", "resnet50", "--image-size", "48"]
        args += ["--epochs", "2", "--batch-size", "8", "--no-early-stopping", "--json-progress"]
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "model_zoo", *args, "--out", str(tmp_path / f"out-{index}")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
        )
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    histories = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    assert [len(h) for h in histories] == [2, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):  # one model, seen by both
        assert [e[key] for e in histories[0]] == [e[key] for e in histories[1]]
    assert (tmp_path / "out-0" / "model.keras").is_file()  # the chief wrote the model


def test_across_machines_augmentation_is_refused_in_one_line(tmp_path):
    from tests.conftest import colour_class_zip

    data = tmp_path / "data.zip"
    data.write_bytes(colour_class_zip())
    tf_config = json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    )
    proc = run_model_zoo(
        "finetune", str(data), "--augment", "--out", str(tmp_path / "o"), TF_CONFIG=tf_config
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: Training across machines (TF_CONFIG) trains the head on cached features: "
        "leave out augmentation and unfreezing."
    ]


def run_leaderboard(tmp_path, data: bytes, *args: str) -> subprocess.CompletedProcess:
    return run_on_zip("leaderboard", tmp_path, data, *args)


@pytest.mark.slow
def test_leaderboard_prints_ranked_rows_and_saves_the_csv_and_the_best_model(tmp_path):
    import csv

    from tests.conftest import colour_class_zip

    out = tmp_path / "out"
    proc = run_leaderboard(
        tmp_path,
        colour_class_zip(),
        "--backbones",
        "resnet50,vgg16",
        "--heads",
        "gap,dense_dropout",
        "--epochs",
        "2",
        "--image-size",
        "48",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    rows = document["rows"]
    keys = (
        "backbone",
        "head",
        "test_accuracy",
        "test_interval",
        "val_loss",
        "train_seconds",
        "feature_seconds",
        "size_mb",
        "ms_per_image",
    )
    assert len(rows) == 4 and all(set(keys) <= set(r) for r in rows)
    ranks = [(-r["test_accuracy"], r["val_loss"], r["ms_per_image"]) for r in rows]
    assert ranks == sorted(ranks)
    assert all(r["test_interval"][0] <= r["test_accuracy"] <= r["test_interval"][1] for r in rows)
    assert document["split"] == {"train": 15, "validation": 6, "test": 3}
    best = rows[0]
    assert document["best"] == {"backbone": best["backbone"], "head": best["head"]}
    table = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert [(t["backbone"], t["head"]) for t in table] == [(r["backbone"], r["head"]) for r in rows]
    labels = json.loads((out / "labels.json").read_text())
    assert (labels["backbone"], labels["head"]) == (best["backbone"], best["head"])
    assert (out / "model.keras").stat().st_size > 1e6
    assert list((tmp_path / "tmp").iterdir()) == []  # the job folder is gone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backbones", "vgg16,lenet"], "Unknown backbone 'lenet'"),
        (["--heads", "mlp"], "Unknown head 'mlp'"),
        (["--backbones", "xception", "--image-size", "40"], "--image-size for Xception must be"),
        (["--test-split", "0.9"], "Test split must be between"),
        (["--threshold", "2"], "--threshold must be between 0 and 1"),
    ],
)
def test_leaderboard_bad_settings_exit_2(tmp_path, args, message):
    proc = run_leaderboard(tmp_path, b"unused", *args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_leaderboard_refuses_a_broken_zip_in_one_line(tmp_path):
    proc = run_leaderboard(tmp_path, b"PK\x03\x04 truncated", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'data.zip'}: not a zip file, or a truncated or damaged one"
    ]
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_csv_that_cannot_be_written_is_one_line_and_a_trimmed_list_is_said_back():
    proc = run_cli("classify", str(CAT), "--models", " ResNet50 ", "--csv", "/dev/full")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "note: --models ' ResNet50 ' read as 'resnet50'",
        "WARNING: random weights — these predictions are meaningless.",
        "error: /dev/full: cannot write the file (No space left on device)",
    ]


def test_a_fifo_or_a_device_given_as_a_photo_is_refused_without_being_opened(tmp_path):
    import os

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)  # opening it would wait forever for a writer
    for path, kind in ((fifo, "a pipe (FIFO)"), ("/dev/zero", "a device")):
        proc = run_cli("classify", str(path))
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [f"error: {path}: {kind}, not a file: refused"]
