"""The Fine-tune page's panels: the data summary, the settings, the live training panel and
the results. The page calls them in order; each reads its widgets and renders."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from model_zoo.datasets import Dataset
from model_zoo.devices import device_info
from model_zoo.explain import explain_finetuned, overlay
from model_zoo.finetune.calibration import MAX_TEMPERATURE, wilson_interval
from model_zoo.finetune.eta import eta_text
from model_zoo.finetune.evaluation import TrainResult, calibrate
from model_zoo.finetune.events import Progress
from model_zoo.finetune.export import DEFAULT_THRESHOLD, USE_IT, export_zip
from model_zoo.finetune.features import train_val_test_split
from model_zoo.finetune.formats import FORMATS
from model_zoo.finetune.jobs import TrainingJob
from model_zoo.finetune.leaderboard import Row
from model_zoo.finetune.precheck import DEFAULT_PER_CLASS, imagenet_precheck
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.images import DISPLAY_SIDE, ImageError, load_image
from model_zoo.labels import ClassScore
from model_zoo.limits import MAX_PHOTO_MB
from model_zoo.registry import MODELS
from model_zoo.untrusted import md
from model_zoo.wording import percent, percent_range, run_key, run_label
from ui.batch import finetuned_batch_panel
from ui.charts import (
    abstention_figure,
    chart_names,
    confusion_figure,
    counts_figure,
    history_figure,
    leaderboard_figure,
    reliability_figure,
    resources_figure,
    runs_figure,
    topk_figure,
)
from ui.common import percent_column, plural, selected_points
from ui.models import get_classifiers

IMBALANCE_WARNING = 3.0
# Seconds one conversion and its check took for a ResNet50 head on a 2-core CPU (the
# issue's walk: ONNX 43.9 s); said before the click, and while it runs.
FORMAT_SECONDS = {"savedmodel": 15, "litert": 25, "onnx": 45}
SMALL_TEST = 30  # fewer test images than this: the page says how wide the interval is


def data_summary(dataset: Dataset, name: str) -> None:
    """Classes, counts, thumbnails, an imbalance warning and the files skipped."""
    st.subheader("Your data")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{len(dataset.classes)} classes, {dataset.size} images** from {md(name)}")
        st.plotly_chart(
            counts_figure(dataset.counts), key="counts", config={"displayModeBar": False}
        )
        if dataset.imbalance() >= IMBALANCE_WARNING:
            st.warning(
                f"Imbalanced classes: the largest has {dataset.imbalance():.1f}× the images "
                "of the smallest. Accuracy can look good while the small classes are "
                "mostly wrong; watch their recall in the results."
            )
        if dataset.skipped:
            with st.expander(f"{len(dataset.skipped)} files skipped"):
                st.dataframe(
                    [{"file": n, "why": why} for n, why in dataset.skipped], hide_index=True
                )
    with right:
        for name, files in zip(dataset.classes, dataset.files, strict=True):
            st.markdown(f"**{md(name)}** · {len(files)} images")
            st.image([str(p) for p in files[:6]], width=72)


Grid = tuple[list[str], list[str]]  # a leaderboard's backbones and heads


def settings_form(dataset: Dataset, leaderboard: bool) -> tuple[TrainConfig, Grid | None] | None:
    """The run's settings, defaulting to ``TrainConfig()``'s; the config (and, for a
    leaderboard, its backbones and heads) when the button is pressed."""
    defaults = TrainConfig()
    models, heads = list(MODELS), list(HEADS)
    grid: Grid | None = None
    with st.container(border=True):
        c1, c2, c3 = st.columns(3)
        if leaderboard:
            backbones = c1.multiselect(
                "Backbones", models, default=models, format_func=lambda n: MODELS[n].display_name
            )
            picked_heads = c1.multiselect(
                "Heads", heads, default=heads, format_func=lambda h: HEADS[h]
            )
            grid = (backbones, picked_heads)
            backbone, head = (backbones or models)[0], (picked_heads or heads)[0]
            c1.caption(
                f"{len(backbones) * len(picked_heads)} combinations: one feature pass per "
                "backbone, then every head on its features."
            )
        else:
            backbone = c1.selectbox(
                "Backbone",
                models,
                index=models.index(defaults.backbone),
                format_func=lambda n: MODELS[n].display_name,
            )
            head = c1.radio(
                "Head", heads, index=heads.index(defaults.head), format_func=lambda h: HEADS[h]
            )
        epochs = c2.slider("Epochs", 1, 50, defaults.epochs)
        batch_size = c2.select_slider("Batch size", [8, 16, 32, 64, 128], value=defaults.batch_size)
        learning_rate = c2.select_slider(
            "Learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
            value=defaults.learning_rate,
            format_func=lambda v: f"{v:g}",
        )
        val_split = c2.slider(
            "Validation split",
            0.1,
            0.4,
            defaults.val_split,
            0.05,
            help="Picks the best epoch, stops training early and fits the temperature.",
        )
        test_split = c2.slider(
            "Test split",
            0.05,
            0.3,
            defaults.test_split,
            0.05,
            help="Untouched until training ends, then judged once: the accuracy reported.",
        )
        split_caption(c2, dataset, val_split, test_split, defaults.seed)
        image_size = c3.select_slider(
            "Image size",
            [96, 128, 160, 192, 224, 299],
            value=defaults.size,
            help="Smaller is faster. Capped at the backbone's own input size (224 or 299).",
        )
        early_stopping = c3.toggle("Early stopping", value=defaults.early_stopping)
        augment, unfreeze, fine_tune_epochs = False, 0, defaults.fine_tune_epochs
        if not leaderboard:
            augment = c3.toggle(
                "Augmentation (flip, rotation, zoom)",
                value=defaults.augment,
                help="Off: each image goes through the backbone once and the head "
                "trains on cached features (fast). On: the full model sees "
                "fresh variations every epoch (slower).",
            )
            unfreeze = c3.number_input(
                "Then fine-tune the top N backbone layers (0 = off)",
                0,
                200,
                defaults.unfreeze,
                help="A second stage at a tenth of the learning rate; BatchNorm stays in "
                "inference mode.",
            )
            # Plain widgets, not a form: this one follows the unfreeze setting as it changes.
            fine_tune_epochs = c3.number_input(
                "Fine-tuning epochs",
                1,
                50,
                defaults.fine_tune_epochs,
                disabled=unfreeze == 0,
                help="Used when N > 0.",
            )
        else:
            c3.caption("The leaderboard trains heads on cached features: no augmentation.")
        label = "Run the leaderboard" if leaderboard else "Train"
        if not st.button(label, type="primary", icon="🏁" if leaderboard else "🚀"):
            return None
    config = TrainConfig(
        backbone=backbone,
        head=head,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        val_split=val_split,
        test_split=test_split,
        augment=augment,
        early_stopping=early_stopping,
        unfreeze=int(unfreeze),
        fine_tune_epochs=int(fine_tune_epochs),
        image_size=image_size
        if leaderboard
        else TrainConfig.fit_size(MODELS[backbone], image_size),
    )
    return config, grid


def split_caption(where: object, dataset: Dataset, val: float, test: float, seed: int) -> None:
    """The split's sizes, and a word when the test split is too small to say much."""
    _, labels = dataset.samples()
    try:
        n_train, n_val, n_test = train_val_test_split(labels, val, test, seed).sizes()
    except ValueError as err:
        where.warning(str(err))  # type: ignore[attr-defined]
        return
    where.caption(  # type: ignore[attr-defined]
        f"Split: **{n_train}** train · **{n_val}** validation · **{n_test}** test "
        "(stratified per class, seeded)."
    )
    if n_test < SMALL_TEST:
        low, high = wilson_interval(n_test, n_test)
        where.caption(  # type: ignore[attr-defined]
            f"⚠️ Only {n_test} test images: even a perfect score has a 95% interval of "
            f"{percent_range(low, high)}. More images per class give a firmer number."
        )


def _progress_ui(where: Any, progress: Progress, stopping: bool, early_stopping: bool) -> None:
    """The phase and its pass, a bar over it, and the time left in the whole run."""
    epoch = f" · epoch {progress.epoch}/{progress.epochs}" if progress.epochs else ""
    if progress.validating:
        epoch += " · validation pass"
    where_in_grid = (
        f" · **{run_label(progress.run)}** (combination {progress.run_index} of {progress.runs})"
        if progress.runs
        else ""
    )
    where.markdown(f"**{progress.phase[:1].upper()}{progress.phase[1:]}**{epoch}{where_in_grid}")
    left = eta_text(progress.eta_low, progress.eta_high, stopping)
    if early_stopping and progress.eta_seconds is not None and not stopping:
        left += " (less if it stops early)"
    counted = f"{progress.unit} {progress.done}/{progress.total} · " if progress.total > 1 else ""
    where.progress(min(progress.done / max(progress.total, 1), 1.0), text=f"{counted}{left}")


def live_panel(job: TrainingJob, polling: bool = False) -> None:
    """Phase, progress, curves, device and the Stop button; polled while training runs."""
    snap = job.snapshot()
    with st.container(border=True, key="live"):
        top = st.columns([3, 1])
        progress = snap.progress
        if snap.state == "running" and progress is not None:
            _progress_ui(top[0], progress, snap.stop_requested, job.config.early_stopping)
        elif snap.state == "failed":
            top[0].markdown(f"**Failed**: {snap.error or 'unknown error'}")
        elif snap.is_grid:
            how = {"done": "Finished", "stopped": "Stopped"}.get(snap.state, "Ended")
            top[0].markdown(f"**{how}**: {plural(len(snap.rows), 'combination')} on the board.")
        elif snap.history:
            how = {"done": "Finished", "stopped": "Stopped"}.get(snap.state, "Ended")
            tuned = sum(h.phase == "fine-tuning" for h in snap.history)
            detail = f" ({tuned} of them fine-tuning)" if tuned else ""
            top[0].markdown(f"**{how}** after {plural(len(snap.history), 'epoch')}{detail}.")
        elif snap.state == "stopped":
            top[0].markdown("**Stopped** before the first epoch ended.")
        with top[1]:
            info = device_info()
            st.markdown(f"🖥️ {info.summary}")
            for gpu in info.gpus:
                if gpu.memory_total_mib:
                    st.caption(
                        f"{gpu.name}: {gpu.memory_used_mib:,.0f} / "
                        f"{gpu.memory_total_mib:,.0f} MiB · "
                        f"{gpu.utilization_percent or 0:.0f}% busy"
                    )
            if snap.state == "running":
                st.button(
                    "Stop",
                    icon="⏹️",
                    on_click=job.stop,
                    key="stop",
                    disabled=snap.stop_requested,
                    type="primary",
                )
        a, b, c = st.columns(3)
        if snap.history and snap.is_grid:
            a.plotly_chart(runs_figure(snap.history, "loss"), key="loss_chart")
            b.plotly_chart(runs_figure(snap.history, "accuracy"), key="acc_chart")
        elif snap.history:
            a.plotly_chart(history_figure(snap.history, "loss"), key="loss_chart")
            b.plotly_chart(history_figure(snap.history, "accuracy"), key="acc_chart")
        if len(snap.resources) > 1:
            c.plotly_chart(resources_figure(snap.resources), key="resources_chart")
        if snap.rows and snap.state == "running":
            st.caption("Finished so far (the full board comes at the end):")
            st.dataframe(
                [
                    {
                        "combination": r.label,
                        "test accuracy": percent(r.test_accuracy),
                        "val loss": round(r.val_loss, 3),
                    }
                    for r in snap.rows
                ],
                hide_index=True,
                key="rows_so_far",
            )
    if polling and snap.state != "running":
        st.rerun()  # the whole page: it draws this panel once more, unpolled, and the results


def leaderboard_panel(rows: Sequence[Row]) -> str | None:
    """The ranked table and the accuracy-vs-speed chart; returns the key of the row picked
    (in the table or on the chart) to open, if any."""
    st.subheader("Leaderboard")
    if not rows:
        st.info("No combination finished.")
        return None
    st.caption(
        f"Ranked by test accuracy ({rows[0].test_images} test images, touched once after "
        "training), then validation loss. The interval is the 95% Wilson interval; "
        "ms per image is the whole model on one image (TensorFlow, this machine)."
    )
    table = [
        {
            "rank": i,
            "combination": r.label + (" (stopped)" if r.stopped else ""),
            "test accuracy": 100 * r.test_accuracy,
            "95% interval": percent_range(*r.test_interval),
            "val loss": r.val_loss,
            "train s": r.train_seconds,
            "features s": r.feature_seconds,
            "size MB": r.size_mb,
            "ms / image": r.ms_per_image,
        }
        for i, r in enumerate(rows, 1)
    ]
    picked = st.dataframe(
        table,
        hide_index=True,
        key="leaderboard_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "test accuracy": percent_column(),
            "val loss": st.column_config.NumberColumn(format="%.3f"),
            "train s": st.column_config.NumberColumn(format="%.1f"),
            "features s": st.column_config.NumberColumn(format="%.1f"),
            "size MB": st.column_config.NumberColumn(format="%.0f"),
            "ms / image": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    event = st.plotly_chart(
        leaderboard_figure(rows),
        key="leaderboard_chart",
        on_select="rerun",
        selection_mode="points",
    )
    clicked = [p["customdata"] for p in selected_points(event) if p.get("customdata")]
    chosen = _selected_rows(picked)
    keys = [r.key for r in rows]
    options = [None, *keys]
    default = clicked[0] if clicked else (keys[chosen[0]] if chosen else None)
    # Keyed by what the table or chart picked, so a new pick there shows here.
    return st.selectbox(
        "Open a combination's full results",
        options,
        index=options.index(default) if default in options else 0,
        format_func=lambda k: "pick one (or a row above)" if k is None else run_label(k),
        key=f"open_row_{default}",
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


def _selected_rows(event: object) -> list[int]:
    selection = getattr(event, "selection", None) or {}
    rows = selection.get("rows", []) if isinstance(selection, dict) else []
    return [int(i) for i in rows]


def show_results(result: TrainResult) -> None:
    """Metrics, confusion matrix (click a cell for its images), per-class scores, the most
    confident mistakes, try-it with Grad-CAM, and the download."""
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

    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Confusion matrix** — click a cell to see its images")
        event = st.plotly_chart(
            confusion_figure(ev.confusion, result.classes),
            key="confusion",
            on_select="rerun",
            selection_mode="points",
        )
        points = selected_points(event)
        names = chart_names(result.classes)  # the figure's (escaped) axis values
        cells = [
            (names.index(p["y"]), names.index(p["x"]))
            for p in points
            if p.get("x") in names and p.get("y") in names
        ]
        options = [
            (i, j)
            for i in range(len(result.classes))
            for j in range(len(result.classes))
            if ev.confusion[i, j]
        ]
        picked = st.selectbox(
            "Images where",
            options,
            index=options.index(cells[0]) if cells and cells[0] in options else None,
            placeholder="pick a cell",
            format_func=lambda c: (
                f"true {result.classes[c[0]]} → predicted "
                f"{result.classes[c[1]]} ({ev.confusion[c]})"
            ),
        )
        if picked is not None:
            indices = ev.cell(*picked)
            st.image(
                [ev.thumbnails[i] for i in indices[:24]],
                width=96,
                caption=[percent(ev.probabilities[i, picked[1]]) for i in indices[:24]],
            )
    with right:
        st.markdown("**Per class**")
        st.dataframe(
            [
                {
                    "class": c.name,
                    "precision": c.precision,
                    "recall": c.recall,
                    "F1": c.f1,
                    "images": c.support,
                }
                for c in ev.per_class
            ],
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="%.3f")
                for name in ("precision", "recall", "F1")
            },
        )

    mistakes = ev.mistakes(12)
    st.markdown("**Most confident mistakes**")
    if mistakes:
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
    else:
        st.caption("None: every test image was classified right.")

    threshold = confidence_panel(result)

    st.markdown("**Try it** — a new photo through your model")
    # Any file: the decoder decides; the hint under it states the real cap.
    photo = st.file_uploader("Photo", key="try_photo", max_upload_size=MAX_PHOTO_MB)
    if photo is not None:
        try:
            image = load_image(photo.getvalue(), max_side=DISPLAY_SIDE)
        except ImageError as err:
            st.warning(f"**{md(photo.name)}**: {md(err)}.")
        else:
            why = explain_finetuned(result.model, image)  # its probabilities come along
            probs = calibrate(why.probabilities, ev.temperature)
            order = np.argsort(-probs)[: min(5, len(probs))]
            a, b = st.columns([1, 2])
            a.image(
                overlay(image, why.heatmap),
                width="stretch",
                caption=f"why {md(result.classes[why.class_index])} (Grad-CAM)",
            )
            best = int(order[0])
            if probs[best] < threshold:
                b.warning(
                    f"**Not sure**: the best guess, {md(result.classes[best])}, has "
                    f"{percent(probs[best])}, below your {percent(threshold)} threshold."
                )
            else:
                b.success(f"**{md(result.classes[best])}** ({percent(probs[best])}, calibrated)")
            b.plotly_chart(
                topk_figure(
                    [ClassScore(result.classes[i], "", int(i), float(probs[i])) for i in order]
                ),
                key="try_chart",
            )

    finetuned_batch_panel(result, threshold)
    download_panel(result, threshold)


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
            data=lambda: export_zip(result, threshold),
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
    data = stored[1]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        reports = json.loads(zf.read("metrics.json"))["formats"]
    for report in reports:
        name = FORMATS.get(report["format"], report["format"])
        if report["error"]:
            st.warning(f"**{name}** not included: {report['error']}")
            continue
        st.markdown(
            f"✅ **{name}** `{report['file']}` · {report['size_mb']:.1f} MB · "
            f"top-1 agreement {percent(report['agreement'])} on {report['images']} validation "
            f"images · max difference {report['max_difference']:.1e} · "
            f"{report['ms_per_image']:.1f} ms/image"
        )
        with st.expander(f"Use it: {name}"):
            st.markdown(USE_IT[report["format"]].format(size=cfg.size, n=len(result.classes)))
    st.download_button(
        "Download the model and its formats (.zip)",
        data=data,
        file_name=file_name,
        mime="application/zip",
        icon="📦",
        type="primary",
        on_click="ignore",
    )


def precheck_panel(dataset: Dataset, random_weights: bool) -> None:
    """Before training: the ImageNet models' top labels per class, and classes that collapse
    onto the same label (run on a click: it loads the five Compare models)."""
    with st.expander("🔎 Before training: what ImageNet already sees in your classes"):
        st.caption(
            f"The five ImageNet models look at the first {DEFAULT_PER_CLASS} images of each "
            "class. Classes they see as the same thing are the ones a fine-tuned model will "
            "most likely confuse."
        )
        if random_weights:
            st.caption("⚠️ Random weights: these ImageNet labels are meaningless.")
        if st.button("Look with the ImageNet models", key="precheck", icon="🔎"):
            classifiers, failed = get_classifiers(list(MODELS))
            if not classifiers:
                st.warning(
                    "No ImageNet model is loaded: "
                    + "; ".join(f"{MODELS[n].display_name}: {s.detail}" for n, s in failed.items())
                )
                return
            st.session_state.precheck_result = (
                dataset.digest,
                imagenet_precheck(dataset, classifiers),
            )
        stored = st.session_state.get("precheck_result")
        if not stored or stored[0] != dataset.digest:
            return
        check = stored[1]
        st.dataframe(
            [
                {
                    "class": view.name,
                    **{
                        f"ImageNet #{i + 1}": f"{label} ({percent(share)})"
                        for i, (label, share) in enumerate(view.top)
                    },
                }
                for view in check.classes
            ],
            hide_index=True,
            key="precheck_table",
        )
        if random_weights:  # the labels above are noise: nothing is concluded from them
            st.caption("With random weights no conclusion is drawn from these labels.")
            return
        for a, b, label in check.collisions:
            st.warning(
                f"**{md(a)}** and **{md(b)}** both look most like *{label}* to ImageNet: expect "
                "them to be confused; more (or more varied) images of each help."
            )
        if not check.collisions:
            st.caption("No two classes share their most-voted ImageNet label.")
