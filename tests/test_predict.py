"""Predictions for many photos: a fine-tuned export (checked before it loads) and the
ImageNet models, from files, folders and zips, as CSV."""

import csv
import io
import json
import shutil
import zipfile

import pytest

from tests.conftest import ROOT, colour_class_zip, run_model_zoo

pytestmark = pytest.mark.slow
EXAMPLES = ROOT / "model_zoo" / "data" / "examples"


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_reads_files_folders_and_zips_and_marks_not_sure(export_dir, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(EXAMPLES, photos, ignore=shutil.ignore_patterns("*.md"))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    data = tmp_path / "more.zip"
    data.write_bytes(colour_class_zip(per_class=2))
    out = tmp_path / "predictions.csv"
    proc = run_model_zoo("predict", str(export_dir), str(photos), str(data), "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out.read_text())
    # Three classes: the best three, never more than there are.
    assert list(rows[0]) == ["file", "top1", "score", "top3", "not_sure", "error"]
    assert len(rows) == 5 + 6  # four photos and a broken one, six from the zip
    broken = next(r for r in rows if r["file"].endswith("broken.jpg"))
    assert broken["error"] and not broken["top1"]
    threshold = json.loads((export_dir / "labels.json").read_text())["threshold"]
    for row in (r for r in rows if not r["error"]):
        top5 = [part.rsplit(" ", 1) for part in row["top3"].split("; ")]
        assert len(top5) == 3 and float(row["score"]) == pytest.approx(float(top5[0][1]))
        sure = float(row["score"]) >= threshold
        assert row["not_sure"] == str(not sure)
        assert row["top1"] == (top5[0][0] if sure else "not sure")
    assert any(r["file"].startswith("more.zip/class_a/") for r in rows)
    assert "on OpenVINO f32" in proc.stderr  # converted once, cached by the model's checksum


def test_the_openvino_path_gives_the_keras_answers(export_dir, tmp_path):
    import dataclasses

    from model_zoo.artifact.exported import load_export
    from model_zoo.datasets import zip_photos
    from model_zoo.predict import predict_photos

    exported = load_export(export_dir, tmp_path)
    assert exported.digest
    keras_only = dataclasses.replace(exported, digest="")
    data = colour_class_zip(per_class=3)
    fast = predict_photos(exported, zip_photos(data), batch=4)
    plain = predict_photos(keras_only, zip_photos(data), batch=4)
    assert exported.engine == "OpenVINO f32" and keras_only.engine == "TensorFlow"
    assert [r.top[0][0] for r in fast] == [r.top[0][0] for r in plain]
    for a, b in zip(fast, plain, strict=True):
        assert [s for _, s in a.top] == pytest.approx([s for _, s in b.top], abs=1e-4)


def test_predict_takes_the_downloaded_zip_too(export_dir, tmp_path):
    bundle = tmp_path / "model.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for name in ("model.keras", "labels.json", "MODEL_CARD.md"):
            zf.write(export_dir / name, name)
    proc = run_model_zoo(
        "predict", str(bundle), str(EXAMPLES / "cat.jpg"), MODEL_ZOO_ENGINE="tensorflow"
    )
    assert proc.returncode == 0, proc.stderr
    assert "on TensorFlow" in proc.stderr
    [row] = read_csv(proc.stdout)
    assert row["file"].endswith("cat.jpg") and row["top3"]


@pytest.mark.parametrize("change", ["tampered", "foreign", "no_labels"])
def test_predict_refuses_models_this_app_did_not_export(export_dir, tmp_path, change):
    folder = tmp_path / "model"
    shutil.copytree(export_dir, folder)
    labels = json.loads((folder / "labels.json").read_text())
    if change == "tampered":
        with open(folder / "model.keras", "ab") as f:
            f.write(b"\0")
        message = "does not match the checksum"
    elif change == "foreign":
        labels.pop("exported_by")
        (folder / "labels.json").write_text(json.dumps(labels))
        message = "does not name Model Zoo"
    else:
        (folder / "labels.json").unlink()
        message = "not a Model Zoo export"
    proc = run_model_zoo("predict", str(folder), str(EXAMPLES / "cat.jpg"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_predict_refuses_a_hostile_photo_zip_in_one_line(export_dir, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.jpg", b"x")
    proc = run_model_zoo("predict", str(export_dir), str(evil))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: the entry '../../escape.jpg' points outside the archive (..)"
    ]
    assert not (tmp_path.parent / "escape.jpg").exists()


def test_classify_a_folder_to_csv_has_a_column_per_model_and_the_ensemble(tmp_path):
    out = tmp_path / "imagenet.csv"
    proc = run_model_zoo("classify", str(EXAMPLES), "--models", "resnet50,vgg16", "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out.read_text())
    assert list(rows[0]) == [  # registry order; ids and numbers in columns of their own
        "file",
        "vgg16",
        "vgg16_score",
        "resnet50",
        "resnet50_score",
        "ensemble",
        "ensemble_score",
        "error",
    ]
    assert sorted(r["file"].rsplit("/", 1)[-1] for r in rows) == [
        "astronaut.jpg",
        "cat.jpg",
        "espresso.jpg",
        "rocket.jpg",
    ]
    for row in rows:
        for column in ("resnet50", "vgg16", "ensemble"):
            assert row[column] and 0 <= float(row[f"{column}_score"]) <= 1
    assert "random weights" in proc.stderr
