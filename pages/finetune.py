"""Fine-tune: teach one of the backbones your own classes, from a zip, a folder, classes
made in the page or the sample; check the data, train, keep the model."""

import streamlit as st

from model_zoo.finetune.jobs import ServerBusy
from model_zoo.untrusted import md
from ui.common import page_setup
from ui.finetune.board import leaderboard_panel
from ui.finetune.data import data_summary, precheck_panel
from ui.finetune.doctor import cleaned_download, cleaned_source, doctor_ui
from ui.finetune.live import live_panel
from ui.finetune.results import show_results
from ui.finetune.runs import (
    ABANDON_AFTER_SECONDS,
    current_run,
    own_run_message,
    prepare,
    start_run,
    upload_key,
)
from ui.finetune.settings import settings_form
from ui.finetune.sources import data_source_ui

source = page_setup("Fine-tune", "🎓")
if source is None:
    st.stop()

st.title("🎓 Fine-tune")
st.caption(
    "Teach a backbone your own classes: upload a zip whose folders are the classes "
    "(`cats/…`, `dogs/…`), drop a folder, make classes here with uploads or the camera, or "
    "try the sample; check the data, pick settings, train, then download a model that "
    "takes raw photos and reloads anywhere."
)

# --- Data ------------------------------------------------------------------------------------
# Any file: the zip reader decides by the bytes and says why it refuses one. Every way in
# (zip, classes made here, a folder, the sample) ends as a zip read by that reader.
run = current_run()  # this session's, or the one this page's URL names (a reopened tab)
given = data_source_ui()
if given is None and run is None:
    st.stop()
said = None
if given is not None:
    origin = upload_key(given[1])
    name, data, said = cleaned_source(given, origin)
    prepared = prepare(name, data, None if said else origin)  # cleaned: other bytes
    del given, data  # the bytes are not kept past extraction
else:
    assert run is not None
    prepared = run.prepared
    origin = prepared.key
if prepared.error:
    st.error(f"**{md(prepared.name)}** refused: {md(prepared.error)}.")
    st.stop()
dataset = prepared.dataset
assert dataset is not None

data_summary(dataset, prepared.name)
if said:
    cleaned_download(said, prepared.name, dataset)
doctor_ui(dataset, source, prepared.key, origin, prepared.name)
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
