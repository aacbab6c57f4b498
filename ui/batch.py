"""Predictions for a zip of photos, on the results page (a fine-tuned model) and on Compare
(the ImageNet models): upload, progress, a table and ``predictions.csv``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from model_zoo.datasets import DatasetError, zip_photos
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.limits import MAX_UPLOAD_MB
from model_zoo.predict import (
    PhotoAnswers,
    PredictionRow,
    answers_csv,
    classify_photos,
    predict_photos,
    rows_csv,
)
from model_zoo.untrusted import md
from model_zoo.wording import model_name, scored, top_header
from ui.common import percent_column
from ui.models import run_export


def _upload(key: str) -> tuple[str, bytes] | None:
    upload = st.file_uploader(
        f"A .zip of photos (any folders; up to {MAX_UPLOAD_MB} MB)",
        key=key,
        max_upload_size=MAX_UPLOAD_MB,
    )
    return None if upload is None else (upload.name, upload.getvalue())


def _progress() -> Callable[[int, int], None]:
    bar = st.progress(0.0, text="Predicting…")

    def show(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), f"{done} photos done")

    return show


def finetuned_batch_panel(result: TrainResult, threshold: float) -> None:
    """A fine-tuned model on every photo of an uploaded zip, with the page's threshold."""
    st.markdown("**Predictions for a folder** — a zip of photos through your model")
    given = _upload("batch_zip")
    if given is None:
        return
    name, data = given
    exported = run_export(result, threshold)
    try:
        rows = predict_photos(exported, zip_photos(data), on_progress=_progress())
    except DatasetError as err:
        st.error(f"**{md(name)}** refused: {md(err)}.")
        return
    st.dataframe(
        predictions_table(rows),
        hide_index=True,
        key="batch_table",
        column_config={"score": percent_column()},
    )
    _download(rows_csv(rows), "batch_csv")


def predictions_table(rows: Sequence[PredictionRow]) -> list[dict[str, object]]:
    """A fine-tuned model's answers for people: the score from 0 to 100 (for
    ``percent_column``), the best classes as ``"cat 51.6%"``, as many as there are."""
    best = top_header(max((len(r.top) for r in rows), default=0))
    return [
        {
            "file": r.file,
            "prediction": r.error or ("not sure" if r.not_sure else r.top[0][0]),
            "score": 100 * r.top[0][1] if r.top else None,
            best: ", ".join(scored(c, s) for c, s in r.top),
        }
        for r in rows
    ]


def answers_table(rows: Sequence[PhotoAnswers]) -> list[dict[str, str]]:
    """The ImageNet models' answers for people: a column per model by its display name,
    each cell ``"tabby cat 51.6%"``."""
    table = []
    for row in rows:
        cells = {"file": row.file}
        for name, best in row.answers:
            cells[model_name(name)] = scored(best.pretty, best.score)
        if row.ensemble is not None:
            cells["ensemble"] = scored(row.ensemble.pretty, row.ensemble.score)
        table.append({**cells, "error": row.error})
    return table


def imagenet_batch_panel(classifiers: Sequence) -> None:
    """The ImageNet models on every photo of an uploaded zip: a column per model and the
    ensemble."""
    given = _upload("imagenet_batch_zip")
    if given is None:
        st.info("Upload a zip of photos: one row per photo, one column per model.")
        return
    name, data = given
    try:
        rows = classify_photos(classifiers, zip_photos(data), on_progress=_progress())
    except DatasetError as err:
        st.error(f"**{md(name)}** refused: {md(err)}.")
        return
    st.dataframe(answers_table(rows), hide_index=True, key="imagenet_batch_table")
    _download(answers_csv(rows), "imagenet_batch_csv")


def _download(text: str, key: str) -> None:
    st.download_button(
        "Download predictions.csv",
        data=text.encode("utf-8"),
        file_name="predictions.csv",
        mime="text/csv",
        icon="📄",
        key=key,
        on_click="ignore",
    )
