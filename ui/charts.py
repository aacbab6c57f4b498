"""Plotly figures for the pages."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from model_zoo.labels import ClassScore

MAX_LABEL = 18  # five charts side by side leave little room for the axis labels


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def topk_figure(top: Sequence[ClassScore], color: str = "#1f77b4", height: int = 230) -> go.Figure:
    """Horizontal bars of a top-k list, best on top, scores as percentages."""
    full = [c.pretty for c in top][::-1]
    scores = [c.score * 100 for c in top][::-1]
    fig = go.Figure(
        go.Bar(
            x=scores,
            # Numeric rows, not categories: ImageNet repeats some labels ("crane", "maillot")
            # and a categorical axis would merge their bars.
            y=list(range(len(full))),
            customdata=full,
            orientation="h",
            marker_color=color,
            text=[f"{s:.1f}%" for s in scores],
            textposition="auto",
            hovertemplate="%{customdata}: %{x:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=10, t=10, b=10),
        xaxis=dict(range=[0, 100], ticksuffix="%", showgrid=True),
        yaxis=dict(
            automargin=True,
            tickmode="array",
            tickvals=list(range(len(full))),
            ticktext=[_short(label) for label in full],
        ),
    )
    return fig
