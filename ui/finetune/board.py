"""The leaderboard: the ranked table and the accuracy-vs-speed chart, either of which opens
a combination's results."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from model_zoo.finetune.leaderboard import Row
from model_zoo.wording import percent_range, run_label
from ui.charts import leaderboard_figure
from ui.common import percent_column, selected_points


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


def _selected_rows(event: object) -> list[int]:
    selection = getattr(event, "selection", None) or {}
    rows = selection.get("rows", []) if isinstance(selection, dict) else []
    return [int(i) for i in rows]
