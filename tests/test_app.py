"""AppTest of every page, with random weights (TensorFlow's import needs a long timeout)."""

from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests import vocabulary
from tests.conftest import encode

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300
MODEL_TITLES = ["VGG16", "VGG19", "ResNet50", "InceptionV3", "Xception"]

pytestmark = pytest.mark.slow


def compare_page() -> AppTest:
    """The Compare page, reached from Home as a user would (sidebar links need the app)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    return at.switch_page("pages/compare.py").run()


def markdown_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def assert_results_for(at: AppTest, titles: list[str]) -> None:
    assert not at.exception, [e.value for e in at.exception]
    shown = [t for t in MODEL_TITLES if f"**{t}**" in markdown_texts(at)]
    assert shown == titles
    # one top-5 chart per model, plus the ensemble chart of the agreement panel
    assert len(at.get("plotly_chart")) == len(titles) + 1
    assert any("Where the models agree" in s.value for s in at.subheader)
    assert sum("ms on OpenVINO f32 ·" in c.value for c in at.caption) == len(titles)


def assert_random_banner(at: AppTest) -> None:
    assert any("every prediction on this page is meaningless" in e.value for e in at.error)


def test_home_explains_both_jobs_and_lists_the_models():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert_random_banner(at)
    text = " ".join(markdown_texts(at))
    assert "Compare" in text and "Fine-tune" in text
    models = at.dataframe[0].value
    assert list(models["Model"]) == MODEL_TITLES
    assert list(models["Input"])[3] == "299×299"


def test_a_page_run_leaves_keras_state_alone():
    # Streamlit would call keras.backend.clear_session() after each run, under the cached
    # models and any model a training thread is building (ui/models.py says why not).
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("model_zoo_probe", "kept")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert global_state.get_global_attribute("model_zoo_probe") == "kept"


def test_compare_waits_for_a_photo():
    at = compare_page()
    assert not at.exception
    assert_random_banner(at)
    assert "Pick an example photo" in at.info[0].value
    assert len(at.get("plotly_chart")) == 0


def test_compare_with_an_example_photo():
    at = compare_page()
    at.button(key="example-cat").click().run()
    assert_results_for(at, MODEL_TITLES)
    assert_random_banner(at)
    first_choices = at.dataframe[0].value
    assert list(first_choices["Model"]) == MODEL_TITLES
    assert vocabulary.problems(vocabulary.page_texts(at)) == []


def test_compare_with_an_uploaded_file(cat_bytes):
    at = compare_page()
    at.radio(key="photo_source").set_value("Upload").run()
    at.file_uploader[0].set_value(("chelsea.jpg", cat_bytes, "image/jpeg")).run()
    assert_results_for(at, MODEL_TITLES)
    assert at.image  # the photo itself is shown


def test_compare_several_uploads_in_a_grid_and_skips_a_bad_one(cat_bytes):
    png = encode(Image.new("RGBA", (300, 200), (0, 90, 200, 255)), "PNG")
    at = compare_page()
    at.radio(key="photo_source").set_value("Upload").run()
    at.file_uploader[0].set_value(
        [
            ("chelsea.jpg", cat_bytes, "image/jpeg"),
            ("notes.png", b"this is not an image", "image/png"),
            ("blue.png", png, "image/png"),
        ]
    ).run()
    assert not at.exception
    assert any("notes.png" in w.value and "not a supported image" in w.value for w in at.warning)
    assert any("2 photos" in s.value for s in at.subheader)
    assert at.selectbox[0].options == ["chelsea.jpg", "blue.png"]
    at.selectbox[0].select_index(1).run()
    assert_results_for(at, MODEL_TITLES)


def test_compare_only_the_picked_models():
    at = compare_page()
    at.multiselect[0].set_value(["resnet50", "xception"]).run()
    at.button(key="example-espresso").click().run()
    assert_results_for(at, ["ResNet50", "Xception"])


@pytest.mark.parametrize("setting", ["folder", "imagenet-offline"])
def test_missing_weights_are_explained_not_a_traceback(setting, monkeypatch, tmp_path):
    import keras

    from ui.models import current_weights

    if setting == "folder":
        monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))
        expected = "is not in the weights folder"
    else:

        def offline(fname, origin, **kwargs):
            raise Exception(
                f"URL fetch failure on {origin}: None -- [Errno -3] Temporary "
                "failure in name resolution"
            )

        monkeypatch.setenv("MODEL_ZOO_WEIGHTS", "imagenet")
        monkeypatch.setenv("KERAS_HOME", str(tmp_path))
        monkeypatch.setattr(keras.utils, "get_file", offline)
        expected = "could not be downloaded (no internet connection)"
    current_weights.clear()
    try:
        at = compare_page()
        at.multiselect[0].set_value(["vgg16", "resnet50"]).run()
        at.button(key="example-rocket").click().run()
        assert not at.exception
        errors = [e.value for e in at.error]
        for file in (
            "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        ):
            assert any(f"{file} {expected}" in e for e in errors), errors
        assert not any("every prediction on this page" in e for e in errors)  # no banner
        assert len(at.get("plotly_chart")) == 0
        assert any(b.label == "Retry loading the missing models" for b in at.button)
        # The addresses come as a block to copy, one per line.
        assert any(
            "```text\nhttps://storage.googleapis.com/tensorflow/keras-applications/vgg16/" in e
            for e in errors
        )
    finally:
        current_weights.clear()


def test_explain_shows_five_heatmaps_and_follows_the_class_picker():
    at = compare_page()
    at.button(key="example-cat").click().run()
    photos_only = len(at.image)  # the four examples and the photo itself
    at.toggle(key="explain").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.image) == photos_only + 5
    captions = [img.proto.imgs[0].caption for img in at.image[photos_only:]]
    assert all(c.startswith("why ") for c in captions)
    at.selectbox(key="explain_class").set_value(281).run()
    captions = [img.proto.imgs[0].caption for img in at.image[photos_only:]]
    assert len(captions) == 5 and all(c.startswith("why tabby (") for c in captions)
    assert vocabulary.problems([*captions, *vocabulary.page_texts(at)]) == []
    at.toggle(key="explain").set_value(False).run()
    assert len(at.image) == photos_only  # Explain off: no heatmap is computed or shown


def test_a_photo_without_an_extension_is_compared(cat_bytes):
    at = compare_page()
    at.radio(key="photo_source").set_value("Upload").run()
    at.file_uploader[0].set_value(("IMG_0042", cat_bytes, "application/octet-stream")).run()
    assert_results_for(at, MODEL_TITLES)


def test_the_photo_cap_counts_usable_photos(cat_bytes):
    png = encode(Image.new("RGB", (64, 48), (0, 90, 200)), "PNG")
    files = [("broken-1.jpg", b"not a photo", "image/jpeg"), ("note.svg", b"<svg/>", "image/svg")]
    files += [(f"p{i:02d}.png", png, "image/png") for i in range(13)]
    at = compare_page()
    at.multiselect[0].set_value(["resnet50"]).run()
    at.radio(key="photo_source").set_value("Upload").run()
    at.file_uploader[0].set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("12 photos" in s.value for s in at.subheader)  # not 10: refusals don't count
    assert len(at.selectbox[0].options) == 12 and at.selectbox[0].options[-1] == "p11.png"
    warnings = [w.value for w in at.warning]
    assert any("note.svg" in w and "not a supported image" in w for w in warnings)
    assert any("first 12 usable photos (1 file not read)" in w for w in warnings)


def test_home_says_missing_for_each_absent_file(monkeypatch, tmp_path):
    from ui.models import current_weights

    monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))
    current_weights.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
        assert not at.exception
        status = at.dataframe[1].value
        assert set(status["Here"]) == {"missing"} and set(status["Here "]) == {"missing"}
    finally:
        current_weights.clear()


def test_models_are_loaded_in_the_background_with_progress():
    from ui.models import get_classifiers, model_loader

    model_loader.clear()  # a fresh server: the loader starts on its first use
    seen = []
    loaded, failed = get_classifiers(["resnet50", "vgg16"], on_wait=seen.append)
    assert [c.name for c in loaded] == ["resnet50", "vgg16"] and failed == {}
    assert seen and all(len(states) == 2 for states in seen)
    assert {s.state for states in seen for s in states} <= {
        "waiting",
        "converting",
        "loading",
        "ready",
    }
    assert all(not states[0].done or not states[1].done for states in seen)  # only while busy
    assert {c.engine_label for c in loaded} == {"OpenVINO f32"}


def test_explain_needs_no_weights_file_once_the_engine_has_its_model(
    monkeypatch, tmp_path, classifiers
):
    """The engine's converted model outlived its .h5 file (deleted since): Compare still
    answers, and so does Explain, whose map and gradient come from the same IR."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    from ui.models import current_weights, model_loader

    with h5py.File(tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, classifiers["resnet50"].keras_model())
    monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))
    current_weights.clear()
    try:
        at = compare_page()
        at.multiselect[0].set_value(["resnet50"]).run()
        at.button(key="example-cat").click().run()
        assert not at.exception and not at.error
        (tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").unlink()
        at.toggle(key="explain").set_value(True).run()
        assert not at.exception and not at.warning
        captions = [i.caption for el in at.get("image") for i in el.proto.imgs]
        assert any(c.endswith("Grad-CAM on OpenVINO f32") for c in captions), captions
    finally:
        current_weights.clear()
        model_loader.clear()


def test_a_bad_engine_setting_is_one_message_on_every_page(monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_ENGINE", "onnx")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(
        "Unknown engine 'onnx'" in e.value and "MODEL_ZOO_ENGINE" in e.value for e in at.error
    )
    at = at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.button  # nothing to click, nothing loaded
    assert any("Unknown engine 'onnx'" in e.value for e in at.error)


def test_compare_a_zip_of_photos_gives_a_table_and_a_csv(cat_bytes):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("trip/cat.jpg", cat_bytes)
        zf.writestr("trip/second_cat.jpg", cat_bytes)
        zf.writestr("trip/notes.txt", b"not a photo")
    at = compare_page()
    at.radio(key="photo_source").set_value("A zip of many photos").run()
    assert any("one row per photo" in i.value for i in at.info)
    at.file_uploader(key="imagenet_batch_zip").set_value(
        ("trip.zip", buf.getvalue(), "application/zip")
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "ensemble" in d.value.columns)
    assert list(table["file"]) == ["trip/cat.jpg", "trip/notes.txt", "trip/second_cat.jpg"]
    assert {"VGG16", "ResNet50", "Xception", "ensemble"} <= set(table.columns)
    assert vocabulary.problems(vocabulary.page_texts(at)) == []
    # The same photo twice: the same answers; the text file says why it has none.
    assert table.loc[0, "ensemble"] == table.loc[2, "ensemble"]
    assert table.loc[1, "error"] == "not an image file type"
    assert at.get("download_button")


def test_every_uploader_states_its_real_cap():
    """The hint under an uploader is Streamlit's, from ``max_upload_size``: it must be the
    cap the app applies (photos 50 MB, zips 200 MB)."""
    from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB

    at = compare_page()
    at.radio(key="photo_source").set_value("Upload").run()
    [photos] = at.get("file_uploader")
    assert photos.proto.max_upload_size_mb == MAX_PHOTO_MB
    at.radio(key="photo_source").set_value("A zip of many photos").run()
    [zips] = at.get("file_uploader")
    assert zips.proto.max_upload_size_mb == MAX_UPLOAD_MB
    at.switch_page("pages/finetune.py").run()
    [dataset] = at.get("file_uploader")
    assert dataset.proto.max_upload_size_mb == MAX_UPLOAD_MB
