"""The live panel while a run goes: its status line (a pure function of the job's snapshot),
the device, Stop, the curves and the combinations finished so far."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from model_zoo.devices import device_info
from model_zoo.finetune.eta import eta_text
from model_zoo.finetune.jobs import JobSnapshot, TrainingJob
from model_zoo.wording import percent, run_label
from ui.charts import history_figure, resources_figure, runs_figure
from ui.common import plural


@dataclass(frozen=True)
class Status:
    """What the panel's first line says: a Markdown title and, while running, a bar (0–1)
    with its text."""

    title: str
    bar: float | None = None
    text: str = ""


def status(snap: JobSnapshot, early_stopping: bool) -> Status:
    """The status line of a run in the state ``snap`` describes."""
    progress = snap.progress
    if snap.state == "running" and progress is not None:
        phase = progress.phase[:1].upper() + progress.phase[1:]
        title = f"**{phase}**"
        if progress.epochs:
            title += f" · epoch {progress.epoch}/{progress.epochs}"
        if progress.validating:
            title += " · validation pass"
        if progress.runs:
            title += (
                f" · **{run_label(progress.run)}** (combination {progress.run_index} of "
                f"{progress.runs})"
            )
        left = eta_text(progress.eta_low, progress.eta_high, snap.stop_requested)
        if early_stopping and progress.eta_seconds is not None and not snap.stop_requested:
            left += " (less if it stops early)"
        counted = (
            f"{progress.unit} {progress.done}/{progress.total} · " if progress.total > 1 else ""
        )
        return Status(title, min(progress.done / max(progress.total, 1), 1.0), counted + left)
    how = {"done": "Finished", "stopped": "Stopped"}.get(snap.state, "Ended")
    if snap.state == "failed":
        return Status(f"**Failed**: {snap.error or 'unknown error'}")
    if snap.is_grid:
        return Status(f"**{how}**: {plural(len(snap.rows), 'combination')} on the board.")
    if snap.history:
        tuned = sum(h.phase == "fine-tuning" for h in snap.history)
        detail = f" ({tuned} of them fine-tuning)" if tuned else ""
        return Status(f"**{how}** after {plural(len(snap.history), 'epoch')}{detail}.")
    if snap.state == "stopped":
        return Status("**Stopped** before the first epoch ended.")
    return Status("**Starting**…" if snap.state == "running" else f"**{how}**.")


def _device_ui(job: TrainingJob, snap: JobSnapshot) -> None:
    info = device_info()
    st.markdown(f"🖥️ {info.summary}")
    for gpu in info.gpus:
        if gpu.memory_total_mib:
            st.caption(
                f"{gpu.name}: {gpu.memory_used_mib:,.0f} / {gpu.memory_total_mib:,.0f} MiB · "
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


def _charts_ui(snap: JobSnapshot) -> None:
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


def live_panel(job: TrainingJob, polling: bool = False) -> None:
    """Phase, progress, curves, device and the Stop button; polled while training runs."""
    snap = job.snapshot()
    with st.container(border=True, key="live"):
        top = st.columns([3, 1])
        line = status(snap, job.config.early_stopping)
        top[0].markdown(line.title)
        if line.bar is not None:
            top[0].progress(line.bar, text=line.text)
        with top[1]:
            _device_ui(job, snap)
        _charts_ui(snap)
    if polling and snap.state != "running":
        st.rerun()  # the whole page: it draws this panel once more, unpolled, and the results
