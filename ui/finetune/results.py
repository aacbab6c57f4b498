"""A finished run's results: one small panel each for the headline numbers, the confusion
matrix (click a cell for its images), the per-class scores, the most confident mistakes,
the confidence to trust, and "try it" with Grad-CAM; then the batch and the download."""

from __future__ import annotations

import numpy as np
import streamlit as st

from model_zoo.artifact.labels import DEFAULT_THRESHOLD
from model_zoo.finetune.calibration import MAX_TEMPERATURE
from model_zoo.finetune.evaluation import TrainResult, calibrate
from model_zoo.gradcam import overlay
from model_zoo.images import DISPLAY_SIDE, ImageError, load_image
from model_zoo.labels import ClassScore
from model_zoo.limits import MAX_PHOTO_MB
from model_zoo.untrusted import md
from model_zoo.wording import percent, percent_range, run_key, run_label
from ui.batch import finetuned_batch_panel
from ui.charts import (
    abstention_figure,
    chart_names,
    confusion_figure,
    reliability_figure,
    topk_figure,
)
from ui.common import plural, selected_points
from ui.finetune.data import SMALL_TEST
from ui.finetune.download import download_panel
from ui.models import run_export


def headline_ui(result: TrainResult) -> None:
    """The heading, what random weights or Stop mean here, and the four numbers."""
    ev = result.evaluation
    st.subheader(f"Results · {run_label(run_key(result.config.backbone, result.config.head))}")
    if result.weights.is_random:
        st.warning(
            "**Random weights**: the backbone's features were never learned, so on real "
            f"photos accuracy near chance (about {percent(1 / len(result.classes))} here) and "
            "one class for every image are expected; only classes that differ in plain colour "
            "or brightness can be told apart. The calibration below then describes an "
            "uninformative model. Train with ImageNet weights for numbers that mean something."
        )
    if result.stopped:
        st.info(
            f"Stopped after {plural(len(result.history), 'epoch')}; the model keeps the weights of "
            f"epoch {result.best_epoch}, the one with the lowest validation loss."
        )
    low, high = ev.interval
    n_train, n_val, n_test = ev.split_sizes
    m = st.columns(4)
    m[0].metric(
        "Test accuracy",
        percent(ev.accuracy),
        help="On the test split, touched once after training.",
    )
    m[1].metric("95% interval", percent_range(low, high), help="Wilson score interval.")
    m[2].metric("Best epoch", f"{result.best_epoch} of {len(result.history)}")
    m[3].metric("Training time", f"{result.seconds:.0f} s")
    st.caption(
        f"Split: {n_train} train · {n_val} validation (best epoch, early stopping, "
        f"temperature) · {n_test} test, never seen in training. Test loss {ev.loss:.3f}, "
        f"validation loss {ev.val_loss:.3f}."
    )
    if n_test < SMALL_TEST:
        st.warning(
            f"Only {n_test} test images: the 95% interval is {100 * (high - low):.0f} points "
            "wide. Treat the accuracy as a rough guide; more images per class narrow it."
        )


def confusion_ui(result: TrainResult) -> None:
    """The confusion matrix; a clicked (or picked) cell shows its test images."""
    ev, classes = result.evaluation, result.classes
    st.markdown("**Confusion matrix** — click a cell to see its images")
    event = st.plotly_chart(
        confusion_figure(ev.confusion, classes),
        key="confusion",
        on_select="rerun",
        selection_mode="points",
    )
    names = chart_names(classes)  # the figure's (escaped) axis values
    cells = [
        (names.index(p["y"]), names.index(p["x"]))
        for p in selected_points(event)
        if p.get("x") in names and p.get("y") in names
    ]
    n = len(classes)
    options = [(i, j) for i in range(n) for j in range(n) if ev.confusion[i, j]]
    picked = st.selectbox(
        "Images where",
        options,
        index=options.index(cells[0]) if cells and cells[0] in options else None,
        placeholder="pick a cell",
        format_func=lambda c: (
            f"true {classes[c[0]]} → predicted {classes[c[1]]} ({ev.confusion[c]})"
        ),
    )
    if picked is not None:
        indices = ev.cell(*picked)
        st.image(
            [ev.thumbnails[i] for i in indices[:24]],
            width=96,
            caption=[percent(ev.probabilities[i, picked[1]]) for i in indices[:24]],
        )


def per_class_ui(result: TrainResult) -> None:
    """Precision, recall and F1 of each class, with the same three decimals; with class
    weighting, each class's recall without it too (the "before")."""
    st.markdown("**Per class**")
    before = result.evaluation.unweighted_recall
    rows = [
        {
            "class": c.name,
            "precision": c.precision,
            "recall": c.recall,
            "F1": c.f1,
            "images": c.support,
        }
        for c in result.evaluation.per_class
    ]
    if before:
        for row, recall in zip(rows, before, strict=False):
            row["recall without weighting"] = recall
        st.caption(
            "Balanced classes: “recall” is this model's; “recall without weighting” is the "
            "same head trained on the same features without class weights."
        )
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("precision", "recall", "F1", "recall without weighting")
        },
    )


def mistakes_ui(result: TrainResult) -> None:
    """The test images the model was surest of and wrong about."""
    ev = result.evaluation
    mistakes = ev.mistakes(12)
    st.markdown("**Most confident mistakes**")
    if not mistakes:
        st.caption("None: every test image was classified right.")
        return
    pred = ev.predictions
    st.image(
        [ev.thumbnails[i] for i in mistakes],
        width=110,
        caption=[
            f"said {md(result.classes[pred[i]])} ({percent(ev.probabilities[i, pred[i]])}), "
            f"is {md(result.classes[ev.labels[i]])}"
            for i in mistakes
        ],
    )


def confidence_panel(result: TrainResult) -> float:
    """Reliability and ECE before and after temperature scaling, and the "not sure"
    threshold with its coverage/accuracy curve; returns the threshold."""
    ev = result.evaluation
    st.markdown("**Confidence you can trust**")
    before, after = ev.reliability(calibrated=False), ev.reliability()
    curve = ev.abstention()
    left, right = st.columns(2)
    with right:
        threshold = (
            st.slider(
                'Answer "not sure" below',
                0,
                99,
                round(100 * DEFAULT_THRESHOLD),
                format="%d%%",
                key="threshold",
                help="Calibrated top-1 confidence; it goes into the download's labels.json.",
            )
            / 100
        )
        coverage, accuracy = curve.at(threshold)
        answered = "none" if np.isnan(accuracy) else f"{percent(accuracy)} of them right"
        st.caption(
            f"At {percent(threshold)}: answers {percent(coverage)} of the test images, {answered}."
        )
        st.plotly_chart(abstention_figure(curve, threshold), key="abstention_chart")
    with left:
        st.caption(
            f"Temperature **{ev.temperature:.3g}** (fitted on the validation split) takes the "
            f"expected calibration error from {before.ece:.3f} to {after.ece:.3f} on the "
            "test split."
        )
        if ev.temperature >= 0.99 * MAX_TEMPERATURE:
            st.caption(
                f"⚠️ The temperature sits at the fit's upper bound ({MAX_TEMPERATURE:g}): the "
                "model's answers carry almost no information, so calibration flattens them "
                "towards equal odds. A low error here means *uninformative*, not *well "
                "calibrated*."
            )
        st.plotly_chart(reliability_figure(before, after), key="reliability_chart")
    return threshold


def try_it_ui(result: TrainResult, threshold: float) -> None:
    """A new photo through the model: its calibrated answer (or "not sure") and Grad-CAM."""
    st.markdown("**Try it** — a new photo through your model")
    # Any file: the decoder decides; the hint under it states the real cap.
    photo = st.file_uploader("Photo", key="try_photo", max_upload_size=MAX_PHOTO_MB)
    if photo is None:
        return
    try:
        image = load_image(photo.getvalue(), max_side=DISPLAY_SIDE)
    except ImageError as err:
        st.warning(f"**{md(photo.name)}**: {md(err)}.")
        return
    classes = result.classes
    with st.spinner("Preparing your model for try-it (once per run)…"):
        exported = run_export(result, threshold)
        exported.compiled()
    why = exported.explain(image)  # its probabilities come along
    probs = calibrate(why.probabilities, result.evaluation.temperature)
    order = np.argsort(-probs)[: min(5, len(probs))]
    a, b = st.columns([1, 2])
    a.image(
        overlay(image, why.heatmap),
        width="stretch",
        caption=f"why {md(classes[why.class_index])} (Grad-CAM on {why.engine})",
    )
    best = int(order[0])
    if probs[best] < threshold:
        b.warning(
            f"**Not sure**: the best guess, {md(classes[best])}, has "
            f"{percent(probs[best])}, below your {percent(threshold)} threshold."
        )
    else:
        b.success(f"**{md(classes[best])}** ({percent(probs[best])}, calibrated)")
    b.plotly_chart(
        topk_figure([ClassScore(classes[i], "", int(i), float(probs[i])) for i in order]),
        key="try_chart",
    )


def show_results(result: TrainResult) -> None:
    """Every results panel, in the page's order."""
    headline_ui(result)
    left, right = st.columns([3, 2])
    with left:
        confusion_ui(result)
    with right:
        per_class_ui(result)
    mistakes_ui(result)
    threshold = confidence_panel(result)
    run_export(result, threshold)  # its first sight starts converting it for try-it
    try_it_ui(result, threshold)
    finetuned_batch_panel(result, threshold)
    download_panel(result, threshold)
