"""Page chrome shared by every page: config, the random-weights banner, the sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from model_zoo.compare.loading import ModelState
from model_zoo.engine import ENGINE_VAR, PRECISION_VAR, engine_settings
from model_zoo.finetune.folders import sweep_job_folders
from model_zoo.registry import MODELS
from model_zoo.weights import ENV_VAR, WeightsSource
from ui.models import current_weights, keep_keras_state_between_runs, loader

# The sidebar navigation, the same on every page (Streamlit's own list of pages/ is hidden
# in .streamlit/config.toml because it can only show file names).
NAV = (
    ("app.py", "Home", "🏠"),
    ("pages/compare.py", "Compare", "🔍"),
    ("pages/finetune.py", "Fine-tune", "🎓"),
)

RANDOM_BANNER = (
    "🎲 **Random weights are in use: every prediction on this page is "
    "meaningless.** They exist for tests and demos of the interface. Set "
    f"`{ENV_VAR}=imagenet` (or a folder of Keras weight files) for real ones."
)


@st.cache_resource(show_spinner=False)
def start_up() -> list[Path]:
    """Once per server process, before its first script run ends: keeps Keras' state between
    runs (``ui.models``) and removes job folders that a killed server left behind."""
    keep_keras_state_between_runs()
    return sweep_job_folders()


def page_setup(title: str, icon: str) -> WeightsSource | None:
    """Configures the page and shows the weights banner; None when the setting is invalid."""
    st.set_page_config(page_title=f"{title} · Model Zoo", page_icon=icon, layout="wide")
    start_up()
    with st.sidebar:
        for path, label, page_icon in NAV:
            st.page_link(path, label=label, icon=page_icon)
        st.divider()
    try:
        source = current_weights()
    except ValueError as err:
        st.error(f"{err} Fix `{ENV_VAR}` and restart the app.", icon="⚠️")
        return None
    try:
        engine_settings()
    except ValueError as err:
        st.error(f"{err} Fix `{ENGINE_VAR}`/`{PRECISION_VAR}` and restart the app.", icon="⚠️")
        return None
    loader()  # the first page view of a fresh server starts loading every model
    if source.is_random:
        st.error(RANDOM_BANNER)
    st.sidebar.caption(f"Weights: {source.describe()}")
    return source


STATE_TEXT = {
    "waiting": "⏳ waiting",
    "converting": "⚙️ converting to OpenVINO (once)",
    "loading": "⏳ loading",
    "failed": "❌ not available",
}


def state_text(state: ModelState) -> str:
    """One model's readiness in a few words, e.g. "✅ OpenVINO bf16, ready in 0.4 s"."""
    if state.state == "ready":
        return f"✅ {state.detail}, ready in {state.seconds:.1f} s"
    if state.state == "failed" and state.missing:
        return "❌ weights missing"
    return STATE_TEXT[state.state]


def show_readiness(names: list[str] | None = None) -> None:
    """Each model's readiness, refreshed every second until every model is done."""
    chosen = names or list(MODELS)

    def lines() -> tuple[str, bool]:
        states = loader().states(chosen)
        text = "  \n".join(f"**{MODELS[s.name].display_name}**: {state_text(s)}" for s in states)
        return text, all(s.done for s in states)

    done = lines()[1]

    @st.fragment(run_every=None if done else 1.0)
    def panel() -> None:
        now, finished = lines()
        st.caption(now)
        if finished and not done:
            st.rerun()  # once, to stop the refresh

    panel()


def selected_points(event: object) -> list[dict]:
    """The points a click selected in a ``st.plotly_chart(on_select="rerun")`` event."""
    return getattr(getattr(event, "selection", None), "points", None) or []


def short_name(name: str, limit: int = 18) -> str:
    """A file name that fits a narrow column on one line: the middle gives way to "…"."""
    if len(name) <= limit:
        return name
    tail = max(6, limit // 2 - 1)
    return name[: limit - tail - 1] + "…" + name[-tail:]


def percent_column(label: str | None = None) -> ColumnConfig:
    """A bar column of percentages written as everywhere else (``51.6%``): give it values
    from 0 to 100."""
    return st.column_config.ProgressColumn(label, format="%.1f%%", min_value=0, max_value=100)


def plural(count: int, noun: str) -> str:
    """ "1 epoch", "2 epochs"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def agreement_message(consensus: str, votes: int, total: int) -> tuple[str, str] | None:
    """How the models' first choices relate: ("success" | "warning", text), or None for one
    model. ``consensus`` is the most common first choice and ``votes`` how many chose it."""
    if total < 2:
        return None
    if votes == total:
        return "success", f"All {total} models agree: **{consensus}**."
    if votes == 1:
        return "warning", f"The models disagree: all {total} first choices differ."
    return "warning", (
        f"The models disagree. Most common first choice: **{consensus}** ({votes} of {total})."
    )
