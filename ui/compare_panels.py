"""The Compare page's result panels: each model's top-5 (with its Grad-CAM when Explain is
on) and where the models agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from model_zoo.compare.inference import Classifier, Comparison, Prediction
from model_zoo.gradcam import DEFAULT_OPACITY, overlay
from model_zoo.images import ResizeMode
from model_zoo.labels import class_score
from model_zoo.registry import MODELS
from model_zoo.weights import MissingWeightsError
from model_zoo.wording import percent
from ui.charts import topk_figure
from ui.common import agreement_message, selected_points
from ui.models import gradcam_heatmap


@dataclass(frozen=True)
class ExplainSettings:
    """The sidebar's Explain choices: on or off, the heatmap's opacity, a class for all."""

    on: bool = False
    opacity: float = DEFAULT_OPACITY
    picked_class: int | None = None


def explained_class(event: object, pred: Prediction, picked_class: int | None) -> int:
    """A bar clicked in this model's chart, else the picker's class, else the top-1."""
    points = selected_points(event)
    if points and "point_index" in points[0]:
        return pred.top[::-1][points[0]["point_index"]].index  # bars are drawn bottom-up
    return pred.top[0].index if picked_class is None else picked_class


def show_comparison(
    result: Comparison,
    photo: np.ndarray,
    classifiers: Sequence[Classifier],
    explain: ExplainSettings,
    resize_mode: ResizeMode,
) -> None:
    """One column per model (with its Grad-CAM when Explain is on), then the agreement."""
    by_name = {c.name: c for c in classifiers}
    for column, pred in zip(st.columns(len(result.predictions)), result.predictions, strict=True):
        spec = MODELS[pred.model]
        with column, st.container(border=True, key=f"result-{pred.model}"):
            st.markdown(f"**{spec.display_name}**")
            event = st.plotly_chart(
                topk_figure(pred.top),
                key=f"chart-{pred.model}",
                config={"displayModeBar": False},
                on_select="rerun" if explain.on else "ignore",
                selection_mode="points",
            )
            if explain.on:
                target = explained_class(event, pred, explain.picked_class)
                try:
                    heat, engine = gradcam_heatmap(by_name[pred.model], photo, target, resize_mode)
                except MissingWeightsError as err:  # the engine's cache outlived the .h5 file
                    st.warning(f"No Grad-CAM: {err.problem}.")
                else:
                    explained = class_score(pred.probabilities, target)
                    st.image(
                        overlay(photo, heat, explain.opacity, resize_mode),
                        width="stretch",
                        caption=f"why {explained.pretty} ({percent(explained.score)}) · "
                        f"Grad-CAM on {engine}",
                    )
            st.caption(
                f"⏱️ {pred.ms:.0f} ms on {by_name[pred.model].engine_label} · "
                f"{spec.params_m:.1f} M parameters · "
                f"{spec.size_mb} MB · input {spec.input_size}×{spec.input_size} · "
                f"ImageNet top-1 {percent(spec.top1)}, top-5 {percent(spec.top5)}"
            )

    agree = result.agreement
    with st.container(border=True, key="agreement"):
        st.subheader("Where the models agree")
        label, votes = agree.consensus
        message = agreement_message(label.pretty, votes, len(result.predictions))
        if message is not None:
            kind, text = message
            (st.success if kind == "success" else st.warning)(text)
        left, right = st.columns(2)
        with left:
            st.markdown("**Each model's first choice**")
            st.dataframe(
                [
                    {
                        "Model": MODELS[m].display_name,
                        "First choice": c.pretty,
                        "Score": percent(c.score),
                    }
                    for m, c in agree.first_choices.items()
                ],
                hide_index=True,
            )
        with right:
            st.markdown("**Ensemble top-5** (mean of the models' probabilities)")
            st.plotly_chart(
                topk_figure(agree.ensemble, color="#2ca02c"),
                key="ensemble",
                config={"displayModeBar": False},
            )
