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
        hovermode="y",  # the whole row hovers and clicks, even for a 0.1% sliver of a bar
        xaxis=dict(range=[0, 100], ticksuffix="%", showgrid=True),
        yaxis=dict(
            automargin=True,
            tickmode="array",
            tickvals=list(range(len(full))),
            ticktext=[_short(label) for label in full],
        ),
    )
    return fig


def counts_figure(counts: dict[str, int], height: int = 260) -> go.Figure:
    """Images per class, as bars."""
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color="#e8590c",
            text=list(counts.values()),
            textposition="auto",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=10, b=0),
        yaxis_title="images",
        xaxis=dict(type="category"),
    )
    return fig


def history_figure(history: Sequence, metric: str, height: int = 280) -> go.Figure:
    """Train and validation curves of ``metric`` ("loss" or "accuracy") per epoch."""
    epochs = [h.epoch for h in history]
    fig = go.Figure()
    fig.add_scatter(
        x=epochs,
        y=[getattr(h, metric) for h in history],
        mode="lines+markers",
        name=f"train {metric}",
    )
    fig.add_scatter(
        x=epochs,
        y=[getattr(h, f"val_{metric}") for h in history],
        mode="lines+markers",
        name=f"validation {metric}",
    )
    tuned = [h.epoch for h in history if h.phase == "fine-tuning"]
    if tuned:
        fig.add_vrect(
            x0=min(tuned) - 0.5,
            x1=max(tuned) + 0.5,
            fillcolor="#e8590c",
            opacity=0.08,
            line_width=0,
            annotation_text="fine-tuning",
        )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title=metric.title(),
        xaxis=dict(title="epoch", dtick=1 if len(epochs) < 20 else None),
        yaxis=dict(range=[0, 1.02]) if metric == "accuracy" else {},
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def confusion_figure(confusion, classes: Sequence[str], height: int = 420) -> go.Figure:
    """Confusion-matrix heatmap; an invisible marker per cell makes cells clickable."""
    n = len(classes)
    names = list(classes)
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=names,
            y=names,
            colorscale="Oranges",
            text=confusion,
            texttemplate="%{text}",
            showscale=False,
            hovertemplate="true %{y} → predicted %{x}: %{z}<extra></extra>",
        )
    )
    # Plotly's heatmaps send no selection events; a transparent scatter on top does.
    fig.add_scatter(
        x=[names[j] for i in range(n) for j in range(n)],
        y=[names[i] for i in range(n) for j in range(n)],
        customdata=[[i, j] for i in range(n) for j in range(n)],
        mode="markers",
        marker=dict(size=28, opacity=0.01, color="black"),
        hoverinfo="skip",
        showlegend=False,
    )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=10, b=0),
        xaxis=dict(title="predicted", type="category"),
        yaxis=dict(title="true", type="category", autorange="reversed"),
        clickmode="event+select",
    )
    return fig
