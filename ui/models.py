"""The one place where models are cached for the app: the Compare models shared by every
session, read-only; a visitor's own fine-tuned model in their session."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import streamlit as st

from model_zoo.artifact.exported import Exported
from model_zoo.compare.explain import explain, gradcam_ready, prepare_gradcam
from model_zoo.compare.inference import Classifier, Comparison, compare
from model_zoo.compare.loading import ModelLoader, ModelState
from model_zoo.engine import engine_settings
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.images import ResizeMode
from model_zoo.registry import MODELS
from model_zoo.runtime import release_free_memory
from model_zoo.weights import MissingWeightsError, WeightsSource, weights_source


def keep_keras_state_between_runs() -> None:
    """Stops Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that to tidy scripts that rebuild their models on each run. This app keeps
    its models across runs (cached, or training in a thread), and the call is harmful here:
    it resets Keras' global state and TensorFlow's kernel cache under a model that another
    thread is building, and with Streamlit's garbage collection after it, holds the GIL for
    over a second with the five models loaded, every second while the training panel polls.
    That starved training to a halt on a busy 2-core machine. Matplotlib figures, Streamlit's
    other cleanup, are still closed.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def close_pyplot_figures() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = close_pyplot_figures


@st.cache_resource(show_spinner=False)
def current_weights() -> WeightsSource:
    """The process-wide weights source (``$MODEL_ZOO_WEIGHTS``), read once."""
    return weights_source()


@st.cache_resource(show_spinner=False)
def model_loader(weights: str) -> ModelLoader:
    """The process's one loader; it starts loading every model at once, in the background,
    so that they are ready before the first photo arrives."""
    loader = ModelLoader(weights_source(weights), engine_settings())
    loader.start(MODELS)
    return loader


def loader() -> ModelLoader:
    """The model loader for the process-wide weights."""
    return model_loader(str(current_weights()))


def get_classifiers(
    names: Sequence[str], on_wait: Callable[[list[ModelState]], None] | None = None
) -> tuple[list[Classifier], dict[str, ModelState]]:
    """Waits for the named models; returns those loaded and, by name, the failed ones' states
    (``missing`` ones: ``weights.how_to_provide`` says how to fix it).

    ``on_wait(states)`` is called while some are still loading, about twice a second.
    """
    models = loader()
    models.start(names)
    while True:
        states = models.states(names)
        if all(s.done for s in states):
            break
        if on_wait is not None:
            on_wait(states)
        models.wait(next(s.name for s in states if not s.done), timeout=0.5)
    loaded = [c for c in (models.classifier(n) for n in names) if c is not None]
    return loaded, {s.name: s for s in states if s.state == "failed"}


def retry_failed_loads(names: Sequence[str]) -> None:
    """Loads ``names`` again (their failures were kept, so reruns do not retry each time)."""
    loader().start(names)


def image_digest(image: np.ndarray) -> str:
    """A content key for an RGB array."""
    return hashlib.blake2b(image.tobytes() + str(image.shape).encode(), digest_size=16).hexdigest()


@st.cache_data(show_spinner=False, max_entries=64)
def _compare_cached(
    digests: tuple[str, ...],
    names: tuple[str, ...],
    weights: str,
    top: int,
    resize_mode: str,
    _classifiers: Sequence[Classifier],
    _images: Sequence[np.ndarray],
) -> list[Comparison]:
    return compare(_classifiers, _images, top, resize_mode)  # type: ignore[arg-type]


def compare_images(
    classifiers: Sequence[Classifier],
    images: Sequence[np.ndarray],
    top: int = 5,
    resize_mode: ResizeMode = "squash",
) -> list[Comparison]:
    """``model_zoo.compare.inference.compare`` with results cached by image content and settings."""
    return _compare_cached(
        tuple(image_digest(i) for i in images),
        tuple(c.name for c in classifiers),
        str(current_weights()),
        top,
        resize_mode,
        classifiers,
        images,
    )


@st.cache_data(show_spinner="Explaining…", max_entries=256)
def _heatmap_cached(
    digest: str,
    name: str,
    weights: str,
    class_index: int,
    resize_mode: str,
    _classifier: Classifier,
    _image: np.ndarray,
) -> tuple[np.ndarray, str]:
    why = explain(_classifier, _image, class_index, resize_mode)  # type: ignore[arg-type]
    if why.engine == "TensorFlow":
        release_free_memory()  # the gradients' buffers, kept by glibc in this run's thread arena
    return why.heatmap, why.engine


def gradcam_heatmap(
    classifier: Classifier, image: np.ndarray, class_index: int, resize_mode: ResizeMode = "squash"
) -> tuple[np.ndarray, str]:
    """Grad-CAM heatmap and the engine that made it, computed on demand and cached per
    (image, model, class, resize)."""
    return _heatmap_cached(
        image_digest(image),
        classifier.name,
        str(current_weights()),
        class_index,
        resize_mode,
        classifier,
        image,
    )


_EXPORTED_KEY = "_run_export"


def run_export(result: TrainResult, threshold: float) -> Exported:
    """The visitor's shown run as an ``Exported``, kept in their session (one at a time: a
    newly shown run replaces it) so its compiled IR is converted and compiled once, and
    goes with the session."""
    key = str(result.folder) if result.folder is not None else str(id(result))
    kept = st.session_state.get(_EXPORTED_KEY)
    if kept is None or kept[0] != key:
        kept = (key, Exported.from_result(result, threshold))
        kept[1].prepare_in_background()
        st.session_state[_EXPORTED_KEY] = kept
    exported: Exported = kept[1]
    exported.threshold = threshold
    return exported


def prepare_explain(classifiers: Sequence[Classifier], where: Any) -> None:
    """Builds the Grad-CAM of each model not built yet, with a status in ``where`` (next to
    the Explain switch) naming the model: the first Explain loads five Keras models."""
    pending = [c for c in classifiers if not gradcam_ready(c)]
    if not pending:
        return
    with where.status("Loading Grad-CAM — first use only", expanded=True) as status:
        for i, classifier in enumerate(pending, 1):
            status.update(
                label=f"Loading Grad-CAM for {classifier.spec.display_name} "
                f"({i} of {len(pending)}) — first use only, a few seconds each"
            )
            try:
                prepare_gradcam(classifier)
            except MissingWeightsError:  # its panel says what is missing
                continue
        status.update(label="Grad-CAM ready", state="complete", expanded=False)
