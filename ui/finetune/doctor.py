"""The data doctor's panel: check the data before training, see copies, leaks, doubted
labels and poor photos, fix them in a table, and keep the fix (a rebuilt dataset and its
zip). Nothing changes without the visitor's click."""

from __future__ import annotations

import base64
import io
from pathlib import Path, PurePosixPath
from typing import Any

import streamlit as st
from PIL import Image

from model_zoo.datasets import Dataset
from model_zoo.doctor.child import DoctorError, examine
from model_zoo.doctor.clean import dataset_zip
from model_zoo.doctor.report import Findings
from model_zoo.finetune.events import Progress
from model_zoo.finetune.folders import new_job_folder
from model_zoo.finetune.jobs import default_memory_limit
from model_zoo.finetune.settings import TrainConfig
from model_zoo.registry import MODELS
from model_zoo.untrusted import md
from model_zoo.weights import WeightsSource
from ui.charts import learning_curve_figure

CLEANED_KEY = "cleaned_dataset"  # {"from": source key, "name", "data", "said"}
MAX_ROWS = 200  # rows in the fix table
THUMB = 64


def thumbnail_url(path: Path) -> str:
    """A small JPEG of a stored image as a data URL (the table's picture column)."""
    with Image.open(path) as opened:
        small = opened.convert("RGB")
    small.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _run_ui(dataset: Dataset, weights: WeightsSource) -> Findings | None:
    models = list(MODELS)
    defaults = TrainConfig()
    backbone = st.selectbox(
        "Features from",
        models,
        index=models.index(defaults.backbone),
        format_func=lambda n: MODELS[n].display_name,
        key="doctor_backbone",
        help="A run of this backbone at its own size reuses these features: no second pass.",
    )
    if not st.button("Check the data", icon="🩺", key="doctor_run"):
        return None
    bar = st.progress(0.0, text="starting the check")
    config = TrainConfig(backbone=backbone)

    def on_progress(p: Progress) -> None:
        bar.progress(min(1.0, p.done / max(1, p.total)), text=p.phase)

    with new_job_folder() as folder:
        try:
            findings = examine(
                dataset,
                config,
                str(weights),
                Path(folder),
                default_memory_limit(),
                on_progress,
            )
        except DoctorError as err:
            bar.empty()
            st.error(f"The check did not finish: {md(str(err))}.")
            return None
    bar.empty()
    return findings


def _summary_ui(findings: Findings) -> None:
    c = st.columns(4)
    c[0].metric("Copy groups", len(findings.duplicates))
    c[1].metric("Across the split", len(findings.leaks))
    c[2].metric("Doubted labels", len(findings.label_issues))
    c[3].metric("Poor photos", len(findings.lint))
    if findings.leaks:
        st.caption(
            f"{len(findings.leaks)} group(s) of copies would fall in different parts of the "
            "split; with “Keep copies in one part” on (the default) each goes to one part."
        )
    if findings.accuracy is not None:
        st.caption(
            f"Labels judged by 5-fold heads on the features: out-of-fold accuracy "
            f"{findings.accuracy:.0%}."
        )


def _curve_ui(findings: Findings, random_weights: bool) -> None:
    points = findings.curve
    if len(points) < 2:
        return
    st.markdown("**Would more photos help?**")
    st.plotly_chart(learning_curve_figure(points), key="learning_curve")
    gain = points[-1].accuracy - points[-2].accuracy
    verdict = (
        "still climbing at all your photos: more would likely help"
        if gain > 0.02
        else "flat at the end: more of the same photos may add little; varied ones might"
    )
    st.caption(
        f"The doctor's head on 20–100% of the training split, judged on the test split "
        f"({verdict})."
        + (
            " Random weights: the curve shows the flow, not your data's worth."
            if random_weights
            else ""
        )
    )


def _copies_ui(dataset: Dataset, findings: Findings) -> None:
    paths, names = dataset.samples()[0], dataset.entry_names()
    for group in findings.duplicates[:10]:
        st.image(
            [str(paths[i]) for i in group],
            width=THUMB + 32,
            caption=[md(names[i]) for i in group],
        )


def fix_rows(dataset: Dataset, findings: Findings) -> list[dict[str, Any]]:
    """One row per image with a finding: picture, file, class, issue, keep, class to use."""
    paths, labels = dataset.samples()
    names, classes = dataset.entry_names(), dataset.classes
    issues: dict[int, list[str]] = {}
    for group in findings.duplicates:
        for i in group[1:]:
            issues.setdefault(i, []).append(f"copy of {names[group[0]]}")
    for issue in findings.label_issues:
        issues.setdefault(issue.index, []).append(
            f"looks like {classes[issue.suggested]} ({issue.score:.2f})"
        )
    for i, why in findings.lint:
        issues.setdefault(i, []).append(why)
    suggested = {x.index: classes[x.suggested] for x in findings.label_issues}
    return [
        {
            "photo": thumbnail_url(paths[i]),
            "file": names[i],
            "class": classes[int(labels[i])],
            "issue": "; ".join(why),
            "keep": True,
            "use class": classes[int(labels[i])],
            "suggested": suggested.get(i, ""),
            "index": i,
        }
        for i, why in list(issues.items())[:MAX_ROWS]
    ]


def _fix_ui(dataset: Dataset, findings: Findings, source_key: str, origin: str, name: str) -> None:
    rows = fix_rows(dataset, findings)
    if not rows:
        st.success("Nothing to fix.")
        return
    edited = st.data_editor(
        rows,
        column_config={
            "photo": st.column_config.ImageColumn("photo", width="small"),
            "keep": st.column_config.CheckboxColumn("keep"),
            "use class": st.column_config.SelectboxColumn(
                "use class", options=list(dataset.classes), required=True
            ),
            "index": None,
        },
        disabled=["photo", "file", "class", "issue", "suggested"],
        hide_index=True,
        key=f"doctor_fix_{source_key}",
    )
    if st.button("Apply the fixes", icon="🧹", key="doctor_apply"):
        drop = {r["index"] for r in edited if not r["keep"]}
        relabel = {
            r["index"]: dataset.classes.index(r["use class"])
            for r in edited
            if r["keep"] and r["use class"] != r["class"]
        }
        stem = PurePosixPath(name).stem.removesuffix("-cleaned")
        st.session_state[CLEANED_KEY] = {
            "from": origin,
            "name": f"{stem}-cleaned.zip",
            "data": dataset_zip(dataset, drop, relabel),
            "said": f"Dropped {len(drop)} photo(s), moved {len(relabel)} to another class.",
        }
        st.rerun()


def doctor_ui(
    dataset: Dataset, weights: WeightsSource, source_key: str, origin: str, name: str
) -> None:
    """The panel, for the dataset ``source_key`` names (``Prepared.key``); fixes replace
    the visitor's own upload (``origin``), however many rounds of fixes it took."""
    with st.expander("🩺 Check the data before training", expanded=False):
        st.caption(
            "Copies (same file, re-encoded, resized or shifted), copies that would straddle "
            "the split, labels the features doubt, and tiny, dark, bright, blurred or flat "
            "photos. Runs the feature pass a run would make anyway, so training after it "
            "skips that pass."
        )
        fresh = _run_ui(dataset, weights)
        if fresh is not None:
            st.session_state.doctor = (source_key, fresh)
        kept = st.session_state.get("doctor")
        if kept is None or kept[0] != source_key:
            return
        findings: Findings = kept[1]
        _summary_ui(findings)
        _curve_ui(findings, weights.is_random)
        _copies_ui(dataset, findings)
        _fix_ui(dataset, findings, source_key, origin, name)


def cleaned_download(said: str, name: str, dataset: Dataset) -> None:
    """What the fixes changed, and the cleaned dataset's zip."""
    cleaned = st.session_state.get(CLEANED_KEY) or {}
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.success(
        f"Fixes applied: {said} Training uses the cleaned dataset ({dataset.size} photos)."
    )
    right.download_button(
        "Download the cleaned zip",
        cleaned.get("data", b""),
        file_name=name,
        mime="application/zip",
        key="download_cleaned",
    )


def cleaned_source(source: tuple[str, bytes], key: str) -> tuple[str, bytes, str | None]:
    """The cleaned dataset in place of ``source`` when the visitor applied fixes to it:
    ``(name, zip bytes, what changed)``."""
    cleaned = st.session_state.get(CLEANED_KEY)
    if cleaned is not None and cleaned["from"] == key:
        return cleaned["name"], cleaned["data"], cleaned["said"]
    return source[0], source[1], None


__all__ = ["CLEANED_KEY", "cleaned_download", "cleaned_source", "doctor_ui", "fix_rows"]
