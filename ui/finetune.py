"""Streamlit-side state of the Fine-tune page: the uploaded dataset and this session's run."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from model_zoo.datasets import Dataset, DatasetError, extract_dataset
from model_zoo.finetune.jobs import TrainingJob, new_job_folder
from model_zoo.finetune.settings import TrainConfig
from model_zoo.weights import WeightsSource


@dataclass
class Prepared:
    """An uploaded zip, checked and extracted into its own temporary folder.

    The folder is deleted when this object is garbage-collected: when the session ends or a
    new zip replaces it (a run that still needs it keeps a reference).
    """

    key: str
    name: str
    folder: tempfile.TemporaryDirectory | None = None
    dataset: Dataset | None = None
    error: str | None = None


@dataclass
class Run:
    """This session's training run and the dataset it trains on."""

    job: TrainingJob
    prepared: Prepared


def prepare(name: str, data: bytes) -> Prepared:
    """Checks and extracts an upload once; the same bytes again reuse the session's copy."""
    key = hashlib.blake2b(data, digest_size=16).hexdigest()
    current: Prepared | None = st.session_state.get("prepared")
    if current is not None and current.key == key:
        return current
    folder = new_job_folder()
    try:
        prepared = Prepared(key, name, folder, extract_dataset(data, Path(folder.name)))
    except DatasetError as err:
        folder.cleanup()  # a refused zip leaves nothing behind
        prepared = Prepared(key, name, error=str(err))
    except BaseException:
        folder.cleanup()  # nor does anything unforeseen
        raise
    st.session_state.prepared = prepared
    return prepared


def current_run() -> Run | None:
    return st.session_state.get("run")


def start_run(
    prepared: Prepared,
    config: TrainConfig,
    weights: WeightsSource,
    grid: tuple[list[str], list[str]] | None = None,
) -> Run:
    """Starts training (with ``grid``, a leaderboard) for this session (raises
    ``ServerBusy`` or ``ValueError``)."""
    assert prepared.dataset is not None
    if grid is not None and not (grid[0] and grid[1]):
        raise ValueError("Pick at least one backbone and one head.")
    run = Run(TrainingJob.start(prepared.dataset, config, weights, grid=grid), prepared)
    st.session_state.run = run
    ctx = get_script_run_ctx()
    if ctx is not None and Runtime.exists():
        threading.Thread(
            target=_stop_when_abandoned, args=(run.job, ctx.session_id), daemon=True
        ).start()
    return run


# A page reconnecting after a network blip keeps its run; a closed tab frees the slot.
ABANDON_AFTER_SECONDS = 10.0


def _stop_when_abandoned(job: TrainingJob, session_id: str, poll: float = 1.0) -> None:
    """Ends the run once the session that started it has been gone for a while: nobody is
    left to see it, and it holds the server's training slot."""
    gone_since = None
    while job.running:
        time.sleep(poll)
        try:
            active = Runtime.instance().is_active_session(session_id)
        except RuntimeError:  # the server is shutting down (or an AppTest ended)
            return
        if active:
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= ABANDON_AFTER_SECONDS:
            job.cancel("Stopped: the page that started this run was closed.")
            return
