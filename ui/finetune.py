"""Streamlit-side state of the Fine-tune page: the uploaded dataset and this session's run."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from model_zoo.datasets import Dataset, DatasetError, extract_dataset
from model_zoo.jobs import TrainingJob
from model_zoo.training import TrainConfig
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
    folder = tempfile.TemporaryDirectory(prefix="model_zoo_job_")
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


def start_run(prepared: Prepared, config: TrainConfig, weights: WeightsSource) -> Run:
    """Starts training for this session (raises ``ServerBusy`` or ``ValueError``)."""
    assert prepared.dataset is not None
    run = Run(TrainingJob.start(prepared.dataset, config, weights), prepared)
    st.session_state.run = run
    return run
