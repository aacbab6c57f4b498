"""AppTest of the Fine-tune page: upload, summary, train, results, Stop, refusal."""

import io
import json
import threading
import time
import typing
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import vocabulary
from tests.conftest import colour_class_zip

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def finetune_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    return at.switch_page("pages/finetune.py").run()


def by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


def upload_and_set(at: AppTest, epochs: int, augment: bool = False) -> AppTest:
    at.file_uploader(key="dataset_zip").set_value(
        ("colours.zip", colour_class_zip(), "application/zip")
    ).run()
    by_label(at.select_slider, "Image size").set_value(96)
    by_label(at.slider, "Epochs").set_value(epochs)
    by_label(at.select_slider, "Batch size").set_value(8)
    by_label(at.toggle, "Augmentation (flip, rotation, zoom)").set_value(augment)
    return at


def wait_for(run, condition, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition(run.job.snapshot()):
        assert time.monotonic() < deadline, "training did not get there in time"
        time.sleep(0.2)


def test_from_upload_to_results(cat_bytes):
    at = finetune_page()
    assert "Upload a zip to start" in at.info[0].value
    at = upload_and_set(at, epochs=2)
    assert not at.exception
    assert any("3 classes, 24 images" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1  # images per class
    by_label(at.button, "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["run"]
    assert run.job.join(timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) >= {"Test accuracy", "95% interval", "Best epoch"}
    assert vocabulary.problems(vocabulary.page_texts(at)) == []
    assert metrics["Best epoch"].endswith("of 2")
    assert any("Split: 15 train · 6 validation" in c.value for c in at.caption)
    assert any("Only 3 test images" in w.value for w in at.warning)
    per_class = at.dataframe[-1]
    assert list(per_class.value["class"]) == ["class_a", "class_b", "class_c"]
    # Every score with the same three decimals (they were rounded numbers: 0.8, 0.667).
    formats = json.loads(per_class.proto.columns)
    assert all(formats[c]["type_config"]["format"] == "%.3f" for c in ("precision", "recall", "F1"))
    keys = chart_keys(at)
    for key in ("counts", "loss_chart", "acc_chart", "confusion", "reliability_chart"):
        assert any(key in k for k in keys), (key, keys)
    assert any("abstention_chart" in k for k in keys)
    assert any(
        "Temperature" in c.value and "expected calibration error" in c.value for c in at.caption
    )
    cell = by_label(at.selectbox, "Images where")
    cell.select_index(0).run()
    assert not at.exception
    at.file_uploader(key="try_photo").set_value(("cat.jpg", cat_bytes, "image/jpeg")).run()
    assert any("try_chart" in k for k in chart_keys(at))
    # The threshold decides between an answer and "not sure".
    at.slider(key="threshold").set_value(99).run()
    assert any(w.value.startswith("**Not sure**") for w in at.warning)
    at.slider(key="threshold").set_value(0).run()
    assert not any(w.value.startswith("**Not sure**") for w in at.warning)
    assert any("calibrated" in s.value for s in at.success)
    assert at.get("download_button")
    # A zip of photos through the model: a row per photo, "not sure" under the threshold.
    at.file_uploader(key="batch_zip").set_value(
        ("more.zip", colour_class_zip(per_class=2), "application/zip")
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    batch = next(d.value for d in at.dataframe if "prediction" in d.value.columns)
    assert len(batch) == 6 and batch["file"].iloc[0] == "class_a/0.jpg"
    assert set(batch["prediction"]) <= {"class_a", "class_b", "class_c", "not sure"}
    # Another format: converted and checked before the download is offered.
    at.checkbox(key="format_savedmodel").check().run()
    assert [b.label for b in at.get("download_button")] == ["Download predictions.csv"]
    at.button(key="convert_formats").click().run()
    assert not at.exception, [e.value for e in at.exception]
    checked = [m.value for m in at.markdown if m.value.startswith("✅ **SavedModel (TF Serving)**")]
    assert len(checked) == 1 and "top-1 agreement 100.0%" in checked[0], checked
    assert any(e.label == "Use it: SavedModel (TF Serving)" for e in at.expander)
    assert at.get("download_button")


def chart_keys(at: AppTest) -> list[str]:
    return [chart.proto.id for chart in at.get("plotly_chart")]


def test_leaderboard_mode_ranks_a_grid_and_opens_a_row():
    at = finetune_page()
    at.file_uploader(key="dataset_zip").set_value(
        ("colours.zip", colour_class_zip(), "application/zip")
    ).run()
    at.segmented_control(key="mode").set_value("Leaderboard").run()
    assert not at.exception
    assert not [t for t in at.toggle if t.label.startswith("Augmentation")]
    backbones, heads = by_label(at.multiselect, "Backbones"), by_label(at.multiselect, "Heads")
    assert backbones.value == ["vgg16", "vgg19", "resnet50", "inception_v3", "xception"]
    assert len(heads.value) == 3
    backbones.set_value(["vgg16", "resnet50"])
    heads.set_value(["gap"])
    by_label(at.select_slider, "Image size").set_value(96)
    by_label(at.slider, "Epochs").set_value(2)
    by_label(at.select_slider, "Batch size").set_value(8)
    at.run()
    assert any("2 combinations" in c.value for c in at.caption)
    by_label(at.button, "Run the leaderboard").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["run"]
    assert run.job.join(timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value.startswith("**Finished**: 2 combinations") for m in at.markdown)
    board = next(d for d in at.dataframe if "combination" in d.value.columns)
    assert sorted(board.value["combination"]) == ["ResNet50 · global pool", "VGG16 · global pool"]
    accuracies = list(board.value["test accuracy"])
    assert accuracies == sorted(accuracies, reverse=True)
    assert any("leaderboard_chart" in k for k in chart_keys(at))
    assert not at.metric  # nothing opened yet
    by_label(at.selectbox, "Open a combination's full results").set_value("vgg16 + gap").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value.startswith("Results · VGG16 · global pool") for h in at.subheader)
    assert {"Test accuracy", "95% interval"} <= {m.label for m in at.metric}
    assert at.get("download_button")


def test_stop_keeps_the_best_weights_and_shows_results():
    at = upload_and_set(finetune_page(), epochs=50, augment=True)
    by_label(at.button, "Train").click().run()
    run = at.session_state["run"]
    wait_for(run, lambda s: len(s.history) >= 1)
    at.button(key="stop").click().run()
    assert run.job.join(timeout=120)
    at.run()
    assert not at.exception
    snap = run.job.snapshot()
    assert snap.state == "stopped" and snap.result is not None
    assert len(snap.result.history) < 50
    assert any("Stopped after" in i.value for i in at.info)


def test_refused_zip_says_why_and_keeps_the_app_alive():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.jpg", b"x")
    at = finetune_page()
    at.file_uploader(key="dataset_zip").set_value(
        ("evil.zip", buf.getvalue(), "application/zip")
    ).run()
    assert not at.exception
    assert any("evil.zip" in e.value and "points outside the archive" in e.value for e in at.error)
    assert not [b for b in at.button if b.label == "Train"]


def test_fine_tuning_epochs_follow_the_unfreeze_setting():
    at = upload_and_set(finetune_page(), epochs=2)
    assert by_label(at.number_input, "Fine-tuning epochs").disabled
    by_label(at.number_input, "Then fine-tune the top N backbone layers (0 = off)").set_value(
        3
    ).run()
    assert not by_label(at.number_input, "Fine-tuning epochs").disabled


def test_a_failed_run_says_failed_and_why(monkeypatch, tmp_path):
    from ui.models import current_weights

    monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))  # a folder without the files
    current_weights.clear()
    try:
        at = upload_and_set(finetune_page(), epochs=2)
        by_label(at.button, "Train").click().run()
        assert at.session_state["run"].job.join(timeout=120)
        at.run()
        assert not at.exception
        live = [m.value for m in at.markdown if m.value.startswith("**Failed**")]
        assert len(live) == 1 and "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in live[0]
    finally:
        current_weights.clear()


def test_a_run_whose_page_is_closed_is_stopped(monkeypatch):
    import ui.finetune.runs as ui_finetune

    class Job:
        running, cancelled = True, None

        def cancel(self, reason):
            self.cancelled, self.running = reason, False

    class Sessions:
        active: typing.ClassVar[set[str]] = {"s1"}

        @classmethod
        def instance(cls):
            return cls

        @classmethod
        def is_active_session(cls, session_id):
            return session_id in cls.active

    monkeypatch.setattr(ui_finetune, "Runtime", Sessions)
    monkeypatch.setattr(ui_finetune, "ABANDON_AFTER_SECONDS", 0.3)
    job = Job()
    run = ui_finetune.Run(job, ui_finetune.Prepared("k", "x.zip"), sessions={"s1"})
    ui_finetune._RUNS[run.token] = run
    watcher = threading.Thread(target=ui_finetune._stop_when_abandoned, args=(run, 0.05))
    watcher.start()
    time.sleep(0.5)
    assert job.cancelled is None  # the page is open: the run goes on
    Sessions.active = set()  # the tab is closed …
    time.sleep(0.15)
    run.sessions.add("s2")  # … and reopened in time, at the run's address
    Sessions.active = {"s2"}
    time.sleep(0.5)
    assert job.cancelled is None and run.token in ui_finetune._RUNS
    Sessions.active = set()  # closed for good
    watcher.join(timeout=5)
    assert job.cancelled == "Stopped: the page that started this run was closed."
    assert run.token not in ui_finetune._RUNS  # forgotten, with its dataset


def test_a_reopened_page_with_the_runs_address_finds_the_run_and_no_other_page_does():
    at = upload_and_set(finetune_page(), epochs=50)
    by_label(at.select_slider, "Image size").set_value(64)
    by_label(at.button, "Train").click().run()
    run = at.session_state["run"]
    token = at.query_params["run"]
    assert token and token == run.token and len(token) >= 20  # unguessable
    try:
        again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        again.query_params["run"] = token
        again.run()
        again = again.switch_page("pages/finetune.py").run()
        assert again.session_state["run"] is run  # the same run, live
        assert any(s.value == "Training" for s in again.subheader)
        assert any("You may close this page" in c.value for c in again.caption)
        stranger = finetune_page()  # a new browser, without the token
        assert "run" not in stranger.session_state
        assert any("Upload a zip to start" in i.value for i in stranger.info)
        assert not any(s.value == "Training" for s in stranger.subheader)
        # Train from the stranger's page: another visitor's run holds the slot
        upload_and_set(stranger, epochs=1)
        by_label(stranger.button, "Train").click().run()
        assert any("another visitor's model (for" in w.value for w in stranger.warning)
    finally:
        run.job.cancel("test over")
        assert run.job.join(timeout=60)


def test_the_job_folder_goes_on_every_failure_path(monkeypatch, tmp_path):
    import tempfile

    import ui.finetune.runs as ui_finetune

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken(data, workdir):
        (workdir / "data").mkdir()
        (workdir / "data" / "half-written.jpg").write_bytes(b"x")
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(ui_finetune, "extract_dataset", broken)
    monkeypatch.setattr(ui_finetune.st, "session_state", {})
    with pytest.raises(RuntimeError):
        ui_finetune.prepare("x.zip", b"PK")
    assert list(tmp_path.iterdir()) == []


def test_the_imagenet_precheck_lists_each_classes_top_labels():
    import re

    at = finetune_page()
    at.file_uploader(key="dataset_zip").set_value(
        ("colours.zip", colour_class_zip(), "application/zip")
    ).run()
    assert any(
        "Random weights: these ImageNet labels are meaningless" in c.value for c in at.caption
    )
    at.button(key="precheck").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d for d in at.dataframe if "ImageNet #1" in d.value.columns)
    assert list(table.value["class"]) == ["class_a", "class_b", "class_c"]
    first = [re.fullmatch(r"(.+) \((\d+\.\d)%\)", cell) for cell in table.value["ImageNet #1"]]
    assert all(first)
    shares = [float(m.group(2)) for m in first]
    assert all(5 <= s <= 100 for s in shares)  # 5 models x 4 images: at least 1 of 20 votes
    # Random weights: the labels are noise, and no pair of classes is said to be confused.
    assert not [w for w in at.warning if "expect them to be confused" in w.value]
    assert any("no conclusion is drawn" in c.value for c in at.caption)


def test_the_precheck_says_so_when_no_imagenet_model_loads(monkeypatch, tmp_path):
    from ui.models import current_weights

    monkeypatch.setenv("MODEL_ZOO_WEIGHTS", str(tmp_path))  # a folder without the files
    current_weights.clear()
    try:
        at = finetune_page()
        at.file_uploader(key="dataset_zip").set_value(
            ("colours.zip", colour_class_zip(), "application/zip")
        ).run()
        at.button(key="precheck").click().run()
        assert not at.exception, [e.value for e in at.exception]
        warning = next(w.value for w in at.warning if "No ImageNet model is loaded" in w.value)
        assert "vgg16_weights_tf_dim_ordering_tf_kernels.h5" in warning
    finally:
        current_weights.clear()


def test_hostile_class_names_reach_the_page_as_escaped_text():
    import re

    names = [
        "![pixel](https:203.0.113.9)",
        "[Claim](https:203.0.113.9)",
        "<img src=x onerror=alert(1)>",
        "$x^2$ :red[red] **bold** `code`",
        "# heading <br> &amp;",
    ]
    at = finetune_page()
    at.file_uploader(key="dataset_zip").set_value(
        ("names.zip", colour_class_zip(per_class=5, names=names), "application/zip")
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [m.value for m in at.markdown if m.value.endswith(" · 5 images")]
    assert len(shown) == len(names)
    for source in shown:
        name = source.removesuffix(" · 5 images").removeprefix("**").removesuffix("**")
        bare = re.sub(r"\\(.)", "", name)  # what a Markdown renderer sees as markup
        assert not re.search(r"[\[\]()<>!`*$:&#]", bare), source
    assert sorted(re.sub(r"\\(.)", r"\1", s)[2:-13] for s in shown) == sorted(names)


def test_train_pressed_during_ones_own_run_says_whether_it_is_still_ending():
    from types import SimpleNamespace

    from ui.finetune.runs import own_run_message

    def job(stopping: bool):
        snapshot = SimpleNamespace(stop_requested=stopping)
        return SimpleNamespace(snapshot=lambda: snapshot, age_seconds=lambda: 42.4)

    assert own_run_message(job(False)) == "This session is already training; stop it first."
    assert own_run_message(job(True)).startswith(
        "Your previous run is still ending (42 s since it started)"
    )
