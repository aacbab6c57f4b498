"""The download: formats to include, each converted in a child process and checked against
the Keras model, its report and "use it" snippet, and the zip."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from model_zoo.artifact.card import USE_IT
from model_zoo.artifact.export import export_zip
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.formats import FORMATS, FormatReport
from model_zoo.wording import percent

# Seconds one conversion and its check took for a ResNet50 head on a 2-core CPU (the
# issue's walk: ONNX 43.9 s); said before the click, and while it runs.
FORMAT_SECONDS = {"savedmodel": 15, "litert": 25, "onnx": 45}


def reports_ui(reports: Sequence[FormatReport], size: int, n_classes: int) -> None:
    """Each format's verification against the Keras model, and how to use it."""
    for report in reports:
        name = FORMATS.get(report.format, report.format)
        if report.error:
            st.warning(f"**{name}** not included: {report.error}")
            continue
        st.markdown(
            f"✅ **{name}** `{report.file}` · {report.size_mb:.1f} MB · "
            f"top-1 agreement {percent(report.agreement)} on {report.images} validation "
            f"images · max difference {report.max_difference:.1e} · "
            f"{report.ms_per_image:.1f} ms/image"
        )
        with st.expander(f"Use it: {name}"):
            st.markdown(USE_IT[report.format].format(size=size, n=n_classes))


def download_panel(result: TrainResult, threshold: float) -> None:
    """Formats to include (each converted and checked against the Keras model first), the
    per-format checks, "use it" snippets, and the download."""
    cfg = result.config
    st.markdown("**Download**")
    columns = st.columns(len(FORMATS))
    chosen = ["keras"]
    for column, (name, label) in zip(columns, FORMATS.items(), strict=True):
        if name == "keras":
            column.checkbox(label, value=True, disabled=True, key="format_keras")
        elif column.checkbox(label, key=f"format_{name}"):
            chosen.append(name)
    file_name = f"model_zoo_{cfg.backbone}_{cfg.head}.zip"
    if chosen == ["keras"]:
        st.download_button(
            "Download the model (.zip: model.keras, labels.json, model card, metrics)",
            data=lambda: export_zip(result, threshold).data,
            file_name=file_name,
            mime="application/zip",
            icon="📦",
            type="primary",
            on_click="ignore",
        )
        return
    key = (result.created, cfg.backbone, cfg.head, tuple(chosen), threshold)
    expected = sum(FORMAT_SECONDS[f] for f in chosen if f in FORMAT_SECONDS)
    if st.button("Convert and check the formats", icon="🔁", key="convert_formats"):
        with st.status(f"Converting — about {expected} s in all", expanded=True) as status:

            def on_format(fmt: str, n: int, of: int) -> None:
                status.update(
                    label=f"Converting to {FORMATS[fmt]} ({n} of {of}, about "
                    f"{FORMAT_SECONDS[fmt]} s) and checking it against the Keras model…"
                )

            bundle = export_zip(result, threshold, chosen, on_format)
            status.update(label="Formats converted and checked", state="complete")
        st.session_state.export_bundle = (key, bundle)
    stored = st.session_state.get("export_bundle")
    if not stored or stored[0] != key:
        st.caption(
            "Each format is converted in a process of its own and checked on the validation "
            f"images before it is offered: about {expected} s for these on a 2-core CPU "
            f"({', '.join(f'{FORMATS[f]} ~{FORMAT_SECONDS[f]} s' for f in chosen[1:])})."
        )
        return
    bundle = stored[1]
    reports_ui(bundle.reports, cfg.size, len(result.classes))
    st.download_button(
        "Download the model and its formats (.zip)",
        data=bundle.data,
        file_name=file_name,
        mime="application/zip",
        icon="📦",
        type="primary",
        on_click="ignore",
    )
