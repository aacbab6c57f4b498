"""AppTest of the Fine-tune page's ways in and its data doctor: classes made in the page
(uploads and a fake camera shot), the sample, the check, its fixes and the cleaned zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model_zoo.sample import sample_photo
from tests.conftest import encode

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SHAPES = ("circle", "square", "triangle")


def finetune_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    return at.switch_page("pages/finetune.py").run()


def _files(shape: str, n: int, seed: int) -> list[tuple[str, bytes, str]]:
    rng = np.random.default_rng(seed)
    return [
        (f"{shape}-{i}.jpg", encode(sample_photo(shape, rng), "JPEG"), "image/jpeg")
        for i in range(n)
    ]


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " classes, " in m.value and " images" in m.value)


def trains(at: AppTest, image_size: int) -> None:
    """One epoch from the page's Train button to its results."""
    next(s for s in at.select_slider if s.label == "Image size").set_value(image_size)
    next(s for s in at.slider if s.label == "Epochs").set_value(1)
    next(b for b in at.button if b.label == "Train").click().run()
    assert at.session_state["run"].job.join(timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Test accuracy" in {m.label for m in at.metric}


def errors(at: AppTest) -> list[str]:
    """The page's error lines, less the random-weights banner."""
    return [e.value for e in at.error if "Random weights" not in e.value]


def made_classes(at: AppTest) -> AppTest:
    """Three classes named in the page, five uploads each, and one camera shot."""
    at.segmented_control(key="data_way").set_value("Make classes here").run()
    for shape in SHAPES:
        at.text_input[0].input(shape)
        at.button[0].click().run()  # the form's "Add class"
    assert not at.exception, [e.value for e in at.exception]
    for index, shape in enumerate(SHAPES):
        uploader = next(u for u in at.file_uploader if u.label == f"Add photos to {shape}")
        uploader.set_value(_files(shape, 5, index)).run()
    at.selectbox(key="camera_class").set_value("triangle").run()
    shot = encode(sample_photo("triangle", np.random.default_rng(9)), "JPEG")
    at.camera_input[0].set_value(("shot.jpg", shot, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_classes_made_in_the_page_train_and_download_as_a_zip_that_reads_back():
    at = made_classes(finetune_page())
    texts = [t.value for t in at.text]
    assert texts == ["circle · 5 photos", "square · 5 photos", "triangle · 6 photos"]
    at.button(key="use_classes").click().run()
    assert "3 classes, 16 images" in summary(at)
    zipped = at.session_state["photo_set"].to_zip()
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert "triangle/shot-006.jpg" in archive.namelist()
    # The download re-uploads to the same summary.
    again = finetune_page()
    again.file_uploader(key="dataset_zip").set_value(
        ("my-classes.zip", zipped, "application/zip")
    ).run()
    assert summary(again) == summary(at).replace("my-classes.zip", "my-classes.zip")
    trains(at, image_size=96)


def test_a_photo_is_removed_and_a_bad_class_name_is_refused_in_one_line():
    at = made_classes(finetune_page())
    at.selectbox(key="remove_photo_0").set_value(0).run()
    assert at.text[0].value == "circle · 4 photos"
    at.text_input[0].input("a/b")
    at.button[0].click().run()
    assert errors(at) == ["a class name cannot contain / or \\\\."]
    at.text_input[0].input("<b>x *y*")  # no slash: data, shown as text
    at.button[0].click().run()
    assert errors(at) == [] and "<b>x *y* · 0 photos" in [t.value for t in at.text]


def test_the_sample_loads_says_it_is_synthetic_and_the_doctor_checks_it():
    at = finetune_page()
    at.segmented_control(key="data_way").set_value("Try the sample").run()
    assert any("synthetic" in i.value for i in at.info)
    at.button(key="load_sample").click().run()
    assert "3 classes, 72 images" in summary(at)
    at.button(key="doctor_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: int(m.value) for m in at.metric}
    assert set(metrics) == {"Copy groups", "Across the split", "Doubted labels", "Poor photos"}
    editor = at.data_editor[0]
    rows = editor.value
    assert len(rows) == metrics["Doubted labels"] + metrics["Poor photos"]  # no copies here
    first = rows.iloc[0]["file"]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"keep": False}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="doctor_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "3 classes, 71 images" in summary(at)
    assert any("Dropped 1 photo(s)" in s.value for s in at.success)
    cleaned = at.session_state["cleaned_dataset"]["data"]
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        assert first not in archive.namelist() and len(archive.namelist()) == 71
    trains(at, image_size=224)  # the cleaned sample: a new dataset, its own feature pass
