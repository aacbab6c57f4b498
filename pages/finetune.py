"""Fine-tune: teach one of the backbones your own classes from a zip of class folders."""

import streamlit as st

from model_zoo.finetune.jobs import ServerBusy
from model_zoo.limits import MAX_PHOTO_MB, MAX_UPLOAD_MB
from model_zoo.untrusted import md
from ui.common import page_setup
from ui.finetune.board import leaderboard_panel
from ui.finetune.data import data_summary, precheck_panel
from ui.finetune.live import live_panel
from ui.finetune.results import show_results
from ui.finetune.runs import (
    ABANDON_AFTER_SECONDS,
    current_run,
    own_run_message,
    prepare,
    start_run,
)
from ui.finetune.settings import settings_form

source = page_setup("Fine-tune", "🎓")
if source is None:
    st.stop()

st.title("🎓 Fine-tune")
st.caption(
    "Teach a backbone your own classes: upload a zip whose folders are the classes "
    "(`cats/…`, `dogs/…`), check the data, pick settings, train, then download a model "
    "that takes raw photos and reloads anywhere."
)

# --- Data ------------------------------------------------------------------------------------
# Any file: the zip reader decides by the bytes and says why it refuses one.
run = current_run()  # this session's, or the one this page's URL names (a reopened tab)
upload = st.file_uploader(
    "Dataset: a .zip of class folders", key="dataset_zip", max_upload_size=MAX_UPLOAD_MB
)
if upload is None and run is None:
    st.info(
        f"Upload a zip to start (up to {MAX_UPLOAD_MB} MB). One folder per class, at least 2 "
        "classes and 5 images in each; a single wrapping folder is fine. JPEG, PNG, WebP, "
        f"GIF, BMP and TIFF photos up to {MAX_PHOTO_MB} MB each are read; other files are "
        "skipped and listed."
    )
    st.stop()
if upload is not None:
    prepared = prepare(upload.name, upload.getvalue())
    del upload  # the bytes are not kept past extraction
else:
    assert run is not None
    prepared = run.prepared
if prepared.error:
    st.error(f"**{md(prepared.name)}** refused: {md(prepared.error)}.")
    st.stop()
dataset = prepared.dataset
assert dataset is not None

data_summary(dataset, prepared.name)
precheck_panel(dataset, source.is_random)

st.subheader("Settings")
mode = st.segmented_control(
    "Mode",
    ["Single run", "Leaderboard"],
    default="Single run",
    key="mode",
    help="Leaderboard: several backbones and heads side by side, judged on the same test split.",
)
chosen = settings_form(dataset, leaderboard=mode == "Leaderboard")
if chosen is not None:
    if run is not None and run.job.running:
        st.warning(own_run_message(run.job))
    else:
        try:
            run = start_run(prepared, chosen[0], source, grid=chosen[1])
        except ServerBusy as err:
            st.warning(str(err))
        except ValueError as err:
            st.error(str(err))

if run is not None:
    st.subheader("Training")
    if run.job.running:
        st.caption(
            f"You may close this page: the run goes on for {ABANDON_AFTER_SECONDS / 60:.0f} "
            "minutes without one, and this page's address (it carries the run's token) shows "
            "it again, live, then its results. Whoever has that address can see this run; "
            "nobody else can."
        )
        st.fragment(run_every=1.0)(live_panel)(run.job, polling=True)
    else:
        live_panel(run.job)
    snapshot = run.job.snapshot()
    if snapshot.error and snapshot.state == "stopped":
        st.info(snapshot.error)


if run is not None and (final := run.job.snapshot()).result is not None:
    show_results(final.result)
elif run is not None and final.is_grid and not run.job.running:
    key = leaderboard_panel(final.rows)
    if key is not None:
        show_results(run.job.row_result(key))
