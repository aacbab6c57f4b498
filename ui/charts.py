"""Plotly figures for the pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from model_zoo.labels import ClassScore
from model_zoo.untrusted import plotly_text
from model_zoo.wording import model_name

# The label sits above its bar and the score at the bar's end, so neither crowds the other
# in a fifth of a laptop screen beside the sidebar (about 170 px at 12 px type).
MAX_LABEL = 26
EMPTY_CELL = "#e9ecef"  # a confusion cell with no image: light grey, never the background


def chart_names(names: Iterable[str]) -> list[str]:
    """Class names as Plotly text: its markup (``<a href>``, ``<br>``, entities) escaped."""
    return [plotly_text(n) for n in names]


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def topk_figure(top: Sequence[ClassScore], color: str = "#1f77b4", height: int = 250) -> go.Figure:
    """Horizontal bars of a top-k list, best on top; each label and score sits above its bar
    (axis labels would be clipped in five narrow columns)."""
    full = [c.pretty for c in top][::-1]  # a fine-tuned model's names are a visitor's: escaped
    scores = [c.score * 100 for c in top][::-1]
    rows = list(range(len(full)))
    fig = go.Figure(
        go.Bar(
            x=scores,
            # Numeric rows, not categories: ImageNet repeats some labels ("crane", "maillot")
            # and a categorical axis would merge their bars.
            y=rows,
            width=0.4,
            customdata=chart_names(full),
            orientation="h",
            marker_color=color,
            hovertemplate="%{customdata}: %{x:.2f}%<extra></extra>",
            text=[f"<b>{score:.1f}%</b>" for score in scores],
            textposition="auto",  # after a short bar, inside a long one
            textfont=dict(size=11),
            cliponaxis=False,
        )
    )
    for row, label in zip(rows, full, strict=True):
        fig.add_annotation(
            x=0,
            y=row + 0.22,
            xref="x",
            yref="y",
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=12),
            text=plotly_text(_short(label)),
        )
    fig.update_layout(
        height=height,
        margin=dict(l=4, r=4, t=4, b=4),
        hovermode="y",  # the whole row hovers and clicks, even for a 0.1% sliver of a bar
        xaxis=dict(range=[0, 100], ticksuffix="%", showgrid=True, dtick=25),
        yaxis=dict(showticklabels=False, range=[-0.45, len(rows) - 0.2], fixedrange=True),
    )
    return fig


def counts_figure(counts: dict[str, int], height: int = 260) -> go.Figure:
    """Images per class, as bars."""
    fig = go.Figure(
        go.Bar(
            x=chart_names(counts),
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
    """Confusion-matrix heatmap: right answers (the diagonal) in green, mistakes in red, so
    errors stand out; an invisible marker per cell makes cells clickable."""
    n = len(classes)
    names = chart_names(classes)  # what a selected point's "x" and "y" hold
    counts = np.asarray(confusion)
    diagonal = np.eye(n, dtype=bool)
    peak = max(int(counts.max()), 1)

    def cells(mask: np.ndarray, scale: str | list) -> go.Heatmap:
        return go.Heatmap(
            z=np.where(mask, counts, np.nan),
            x=names,
            y=names,
            colorscale=scale,
            zmin=-0.4 * peak,  # a single mistake is still plainly red, not near-white
            zmax=peak,
            showscale=False,
            texttemplate="%{z}",  # Plotly picks a text colour that reads on each cell
            hovertemplate="true %{y} → predicted %{x}: %{z}<extra></extra>",
            hoverongaps=False,
            xgap=2,  # a cell's edges show, so its count sits inside it
            ygap=2,
        )

    empty = counts == 0
    fig = go.Figure(
        [
            cells(empty, [[0, EMPTY_CELL], [1, EMPTY_CELL]]),  # a light cell: its 0 shows
            cells(diagonal & ~empty, "Greens"),
            cells(~diagonal & ~empty, "Reds"),
        ]
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
        plot_bgcolor="white",
    )
    return fig


def runs_figure(history: Sequence, metric: str, height: int = 280) -> go.Figure:
    """A leaderboard's validation ``metric`` per epoch, one line per combination."""
    fig = go.Figure()
    for run in dict.fromkeys(h.run for h in history):
        logs = [h for h in history if h.run == run]
        fig.add_scatter(
            x=[h.epoch for h in logs],
            y=[getattr(h, f"val_{metric}") for h in logs],
            mode="lines+markers",
            name=run,
        )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title=f"Validation {metric}, per combination",
        xaxis=dict(title="epoch"),
        yaxis=dict(range=[0, 1.02]) if metric == "accuracy" else {},
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def resources_figure(samples: Sequence, height: int = 280) -> go.Figure:
    """The training process over time: CPU % and memory; GPU busy % and memory with a GPU."""
    t = [s.seconds for s in samples]
    fig = go.Figure()
    fig.add_scatter(x=t, y=[s.cpu_percent for s in samples], name="CPU %", mode="lines")
    fig.add_scatter(
        x=t, y=[s.rss_gb for s in samples], name="memory (GB)", mode="lines", yaxis="y2"
    )
    if any(s.gpu_percent is not None for s in samples):
        fig.add_scatter(x=t, y=[s.gpu_percent for s in samples], name="GPU %", mode="lines")
        fig.add_scatter(
            x=t,
            y=[s.gpu_memory_gb for s in samples],
            name="GPU memory (GB)",
            mode="lines",
            yaxis="y2",
        )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title="Resources of the training process",
        xaxis=dict(title="seconds"),
        yaxis=dict(title="%", range=[0, 105]),
        yaxis2=dict(title="GB", overlaying="y", side="right", rangemode="tozero"),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def leaderboard_figure(rows: Sequence, height: int = 360) -> go.Figure:
    """Test accuracy (with its 95% interval) against milliseconds per image, one marker
    per combination: colour by backbone, shape by head. Click a marker to open it."""
    symbols = ["circle", "square", "diamond", "triangle-up", "x"]
    heads = list(dict.fromkeys(r.head for r in rows))
    fig = go.Figure()
    for backbone in dict.fromkeys(r.backbone for r in rows):
        mine = [r for r in rows if r.backbone == backbone]
        fig.add_scatter(
            x=[r.ms_per_image for r in mine],
            y=[100 * r.test_accuracy for r in mine],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[100 * (r.test_interval[1] - r.test_accuracy) for r in mine],
                arrayminus=[100 * (r.test_accuracy - r.test_interval[0]) for r in mine],
                thickness=1,
            ),
            mode="markers",
            marker=dict(size=12, symbol=[symbols[heads.index(r.head) % 5] for r in mine]),
            name=model_name(backbone),
            customdata=[r.key for r in mine],
            text=[r.label for r in mine],
            hovertemplate="%{text}: %{y:.1f}% at %{x:.0f} ms/image<extra></extra>",
        )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title="Test accuracy (95% interval) vs inference time",
        xaxis=dict(title="ms per image (TensorFlow, one image)", rangemode="tozero"),
        yaxis=dict(title="test accuracy", ticksuffix="%", range=[-2, 102]),
        clickmode="event+select",
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def reliability_figure(before, after, height: int = 300) -> go.Figure:
    """Reliability diagram: accuracy per confidence bin, before and after temperature
    scaling, against the diagonal of perfect calibration."""
    centres = (before.edges[:-1] + before.edges[1:]) / 2
    width = float(before.edges[1] - before.edges[0])
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="perfect"
    )
    for rel, name, colour in ((before, "before", "#adb5bd"), (after, "calibrated", "#1f77b4")):
        fig.add_bar(
            x=centres,
            y=np.nan_to_num(rel.accuracy),
            width=width * 0.45,
            offset=-width * 0.45 if name == "before" else 0,
            name=f"{name} (ECE {rel.ece:.3f})",
            marker_color=colour,
            customdata=rel.counts,
            hovertemplate="confidence %{x:.2f}: %{y:.1%} right of %{customdata}<extra></extra>",
        )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title="Reliability on the test split",
        xaxis=dict(title="confidence", range=[0, 1]),
        yaxis=dict(title="accuracy", range=[0, 1.02]),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def abstention_figure(curve, threshold: float, height: int = 300) -> go.Figure:
    """Coverage and accuracy on the answered images against the "not sure" threshold."""
    x = 100 * curve.thresholds
    fig = go.Figure()
    fig.add_scatter(x=x, y=100 * curve.coverage, name="answered (coverage)", mode="lines")
    fig.add_scatter(x=x, y=100 * curve.accuracy, name="accuracy when answering", mode="lines")
    fig.add_vline(x=100 * threshold, line_dash="dash", line_color="#e8590c")
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=30, b=0),
        title='"Not sure" below a threshold (test split)',
        xaxis=dict(title="threshold", ticksuffix="%"),
        yaxis=dict(ticksuffix="%", range=[0, 102]),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def learning_curve_figure(points: Sequence, height: int = 280) -> go.Figure:
    """Test accuracy (with its Wilson band) against training images per class."""
    x = [p.per_class for p in points]
    fig = go.Figure(
        [
            go.Scatter(
                x=x + x[::-1],
                y=[p.high for p in points] + [p.low for p in points][::-1],
                fill="toself",
                fillcolor="rgba(31,119,180,0.15)",
                line=dict(width=0),
                hoverinfo="skip",
                name="95% interval",
            ),
            go.Scatter(
                x=x, y=[p.accuracy for p in points], mode="lines+markers", name="test accuracy"
            ),
        ]
    )
    fig.update_layout(
        height=height,
        margin=dict(l=0, r=0, t=10, b=0),
        xaxis_title="training images per class",
        yaxis=dict(title="test accuracy", range=[0, 1.02], tickformat=".0%"),
        showlegend=False,
    )
    return fig
