"""The Fine-tune page's panels: the data summary, the settings, the live training panel and
the results. The page calls them in order; each reads its widgets and renders."""

from __future__ import annotations

import numpy as np
import streamlit as st

from model_zoo.datasets import Dataset
from model_zoo.devices import device_info
from model_zoo.explain import explain_finetuned, overlay
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.export import export_zip
from model_zoo.finetune.jobs import TrainingJob
from model_zoo.finetune.settings import HEADS, TrainConfig
from model_zoo.images import DISPLAY_SIDE, ImageError, load_image
from model_zoo.labels import ClassScore
from model_zoo.registry import MODELS
from ui.charts import confusion_figure, counts_figure, history_figure, topk_figure
from ui.common import plural, selected_points

IMBALANCE_WARNING = 3.0


def data_summary(dataset: Dataset, name: str) -> None:
    """Classes, counts, thumbnails, an imbalance warning and the files skipped."""
    st.subheader("Your data")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{len(dataset.classes)} classes, {dataset.size} images** from `{name}`")
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
            st.markdown(f"**{name}** · {len(files)} images")
            st.image([str(p) for p in files[:6]], width=72)


def settings_form() -> TrainConfig | None:
    """The run's settings, defaulting to ``TrainConfig()``'s; a config when Train is pressed."""
    defaults = TrainConfig()
    models, heads = list(MODELS), list(HEADS)
    with st.container(border=True):
        c1, c2, c3 = st.columns(3)
        backbone = c1.selectbox(
            "Backbone",
            models,
            index=models.index(defaults.backbone),
            format_func=lambda n: MODELS[n].display_name,
        )
        head = c1.radio("Head", heads, index=heads.index(defaults.head), format_func=HEADS.get)
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
            help="Held out, stratified per class, seeded.",
        )
        image_size = c3.select_slider(
            "Image size",
            [96, 128, 160, 192, 224, 299],
            value=defaults.size,
            help="Smaller is faster. Capped at the backbone's own input size (224 or 299).",
        )
        augment = c3.toggle(
            "Augmentation (flip, rotation, zoom)",
            value=defaults.augment,
            help="Off: each image goes through the backbone once and the head "
            "trains on cached features (fast). On: the full model sees "
            "fresh variations every epoch (slower).",
        )
        early_stopping = c3.toggle("Early stopping", value=defaults.early_stopping)
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
        if not st.button("Train", type="primary", icon="🚀"):
            return None
    return TrainConfig(
        backbone=backbone,
        head=head,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        val_split=val_split,
        augment=augment,
        early_stopping=early_stopping,
        unfreeze=int(unfreeze),
        fine_tune_epochs=int(fine_tune_epochs),
        image_size=TrainConfig.fit_size(MODELS[backbone], image_size),
    )


def live_panel(job: TrainingJob, polling: bool = False) -> None:
    """Phase, progress, curves, device and the Stop button; polled while training runs."""
    snap = job.snapshot()
    with st.container(border=True, key="live"):
        top = st.columns([3, 1])
        progress = snap.progress
        if snap.state == "running" and progress is not None:
            epoch = f" · epoch {progress.epoch}/{progress.epochs}" if progress.epochs else ""
            eta = (
                f" · about {progress.eta_seconds:.0f} s left in the run"
                if progress.eta_seconds is not None
                else ""
            )
            top[0].markdown(f"**{progress.phase.capitalize()}**{epoch}")
            counted = (
                f"{progress.unit} {progress.done}/{progress.total}" if progress.total > 1 else ""
            )
            top[0].progress(
                min(progress.done / max(progress.total, 1), 1.0),
                text=f"{counted}{eta}".removeprefix(" · ") or "…",
            )
        elif snap.state == "failed":
            top[0].markdown(f"**Failed**: {snap.error or 'unknown error'}")
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
        if snap.history:
            a, b = st.columns(2)
            a.plotly_chart(history_figure(snap.history, "loss"), key="loss_chart")
            b.plotly_chart(history_figure(snap.history, "accuracy"), key="acc_chart")
    if polling and snap.state != "running":
        st.rerun()  # the whole page: it draws this panel once more, unpolled, and the results


def show_results(result: TrainResult) -> None:
    """Metrics, confusion matrix (click a cell for its images), per-class scores, the most
    confident mistakes, try-it with Grad-CAM, and the download."""
    ev = result.evaluation
    st.subheader("Results")
    if result.stopped:
        st.info(
            f"Stopped after {plural(len(result.history), 'epoch')}; the model keeps the weights of "
            f"epoch {result.best_epoch}, the one with the lowest validation loss."
        )
    m = st.columns(4)
    m[0].metric("Validation accuracy", f"{ev.accuracy:.1%}")
    m[1].metric("Validation loss", f"{ev.loss:.3f}")
    m[2].metric("Best epoch", f"{result.best_epoch} of {len(result.history)}")
    m[3].metric("Training time", f"{result.seconds:.0f} s")
    st.caption(f"Judged on {len(ev.labels)} held-out images the model never trained on.")

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
        cells = [
            (result.classes.index(p["y"]), result.classes.index(p["x"]))
            for p in points
            if p.get("x") in result.classes and p.get("y") in result.classes
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
                caption=[f"{ev.probabilities[i, picked[1]]:.0%}" for i in indices[:24]],
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
                f"said {result.classes[pred[i]]} ({ev.probabilities[i, pred[i]]:.0%}), "
                f"is {result.classes[ev.labels[i]]}"
                for i in mistakes
            ],
        )
    else:
        st.caption("None: every validation image was classified right.")

    st.markdown("**Try it** — a new photo through your model")
    photo = st.file_uploader("Photo", key="try_photo")  # any file: the decoder decides
    if photo is not None:
        try:
            image = load_image(photo.getvalue(), max_side=DISPLAY_SIDE)
        except ImageError as err:
            st.warning(f"**{photo.name}**: {err}.")
        else:
            why = explain_finetuned(result.model, image)  # its probabilities come along
            probs = why.probabilities
            order = np.argsort(-probs)[: min(5, len(probs))]
            a, b = st.columns([1, 2])
            a.image(
                overlay(image, why.heatmap),
                width="stretch",
                caption=f"why {result.classes[why.class_index]} (Grad-CAM)",
            )
            b.plotly_chart(
                topk_figure(
                    [ClassScore(result.classes[i], "", int(i), float(probs[i])) for i in order]
                ),
                key="try_chart",
            )

    cfg = result.config
    st.download_button(
        "Download the model (.zip: model.keras, labels.json, model card, metrics)",
        data=lambda: export_zip(result),
        file_name=f"model_zoo_{cfg.backbone}_{cfg.head}.zip",
        mime="application/zip",
        icon="📦",
        type="primary",
        on_click="ignore",
    )
