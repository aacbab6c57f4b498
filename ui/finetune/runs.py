"""Streamlit-side state of the Fine-tune page: the uploaded dataset and this session's run."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from model_zoo.datasets import Dataset, DatasetError, extract_dataset
from model_zoo.finetune.folders import new_job_folder
from model_zoo.finetune.jobs import TrainingJob
from model_zoo.finetune.settings import Grid, TrainConfig
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


@dataclass(eq=False)
class Run:
    """A visitor's training run, the dataset it trains on, and its token: the page's URL
    carries it (``?run=…``), so a reloaded or reopened page finds the run again."""

    job: TrainingJob
    prepared: Prepared
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    sessions: set[str] = field(default_factory=set)  # the sessions that have it open


# Server-wide, by token: a run outlives the tab that started it, for ABANDON_AFTER_SECONDS.
_RUNS: dict[str, Run] = {}
_RUNS_LOCK = threading.Lock()
RUN_PARAM = "run"
# A closed tab, or a network blip: a run with no page open is ended after this long.
ABANDON_AFTER_SECONDS = 120.0


def upload_key(data: bytes) -> str:
    """What names an upload's bytes (``Prepared.key``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def prepare(name: str, data: bytes, key: str | None = None) -> Prepared:
    """Checks and extracts an upload once; the same bytes again reuse the session's copy.
    ``key``: ``upload_key(data)``, where the caller has it already."""
    key = key or upload_key(data)
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
    """This session's run; on a fresh page whose URL carries a known run token, that run
    (and its dataset), attached to this session."""
    run: Run | None = st.session_state.get("run")
    token = st.query_params.get(RUN_PARAM)
    if run is None and token:
        with _RUNS_LOCK:
            run = _RUNS.get(token)
        if run is not None:
            st.session_state.run = run
            st.session_state.prepared = run.prepared
    if run is not None:
        _attach(run)
    return run


def own_run_message(job: TrainingJob) -> str:
    """Why Train does nothing while this visitor's run is on: still training, or still
    ending after Stop (its slot is not free yet)."""
    if job.snapshot().stop_requested:
        return (
            f"Your previous run is still ending ({job.age_seconds():.0f} s since it started); "
            "its results show here once it has. Try again then."
        )
    return "This session is already training; stop it first."


def start_run(
    prepared: Prepared,
    config: TrainConfig,
    weights: WeightsSource,
    grid: Grid | None = None,
) -> Run:
    """Starts training (with ``grid``, a leaderboard) for this visitor (raises
    ``ServerBusy`` or ``ValueError``); the page's URL gets the run's token."""
    assert prepared.dataset is not None
    if grid is not None and not (grid[0] and grid[1]):
        raise ValueError("Pick at least one backbone and one head.")
    run = Run(TrainingJob.start(prepared.dataset, config, weights, grid=grid), prepared)
    previous: Run | None = st.session_state.get("run")
    ctx = get_script_run_ctx()
    with _RUNS_LOCK:
        _RUNS[run.token] = run
        if previous is not None and ctx is not None:  # this page has moved on from it
            previous.sessions.discard(ctx.session_id)
    st.session_state.run = run
    st.query_params[RUN_PARAM] = run.token
    _attach(run)
    if Runtime.exists():
        threading.Thread(target=_stop_when_abandoned, args=(run,), daemon=True).start()
    return run


def _attach(run: Run) -> None:
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _RUNS_LOCK:
            run.sessions.add(ctx.session_id)


def _stop_when_abandoned(run: Run, poll: float = 1.0) -> None:
    """Ends the run once no page has had it open for ``ABANDON_AFTER_SECONDS``, and forgets
    it then (its dataset folder goes with it): nobody is left to see it, and while it runs
    it holds the server's training slot."""
    gone_since = None
    while True:
        time.sleep(poll)
        try:
            with _RUNS_LOCK:
                sessions = list(run.sessions)
            active = any(Runtime.instance().is_active_session(s) for s in sessions)
        except RuntimeError:  # the server is shutting down (or an AppTest ended)
            return
        if active:
            gone_since = None
            continue
        gone_since = gone_since or time.monotonic()
        if time.monotonic() - gone_since >= ABANDON_AFTER_SECONDS:
            if run.job.running:
                run.job.cancel("Stopped: the page that started this run was closed.")
            with _RUNS_LOCK:
                _RUNS.pop(run.token, None)
            return
