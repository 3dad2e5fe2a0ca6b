"""Plotly figures of the classification workbench, as in "Rethinking Scale" (Carammia, Iacus,
Porro): a metric by category per model, accuracy against model size, and one model's confusion
matrix. Records in, figure out; no Streamlit, so the CLI or a notebook can reuse them.

Figures carry data only: no map tiles, fonts or LaTeX, so plotly.js (bundled with the
dashboard) draws them without fetching anything. Plotly reads a subset of HTML in text, so
label and coder names go in escaped."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.errors import InvalidRequest
from core.types.agreement import MetricValue, ModelMetrics

CATEGORY_METRICS = {
    "f1": "F1",
    "balanced_accuracy": "Balanced accuracy",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
}
SIZE_AXES = {"file_size_mb": "Model file size (MB)", "parameters_m": "Parameters (millions)"}
OVERALL_TITLES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro F1",
    "micro_f1": "Micro F1",
    "jaccard": "Jaccard index",
    "exact_match": "Exact match",
}
# Scores live on [0, 1]: the axis is fixed there (one bar would otherwise autoscale), with room
# above for the upper error bars and the point labels.
SCORE_RANGE = [0, 1.12]
TICK_CHARS = 40
LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def _plain(text: object) -> str:
    return html.escape(str(text), quote=False)


def _ticks(labels: Sequence[str]) -> list[str]:
    """Axis labels, escaped and cut to TICK_CHARS (a long one would squeeze the plot), unless
    cutting would make two of them the same."""
    cut = [t if len(t) <= TICK_CHARS else t[: TICK_CHARS - 1] + "…" for t in labels]
    return [_plain(t) for t in (cut if len(set(cut)) == len(set(labels)) else labels)]


def _short(coder: str) -> str:
    """ "model · 0-shot" of a coder "model · 0-shot · run": the point's label (hover and the
    tables have the run)."""
    parts = coder.split(" · ")
    return " · ".join(parts[:2]) if len(parts) == 3 else coder


def coder_colours(coders: Sequence[str]) -> dict[str, str]:
    """One colour per coder, the same in every figure drawn from the same coder order."""
    palette = qualitative.Plotly
    return {coder: palette[i % len(palette)] for i, coder in enumerate(coders)}


def _interval(value: MetricValue) -> str:
    if value.value is None:
        return f"n/a: {value.reason or 'undefined'}"
    if value.low is None or value.high is None:
        return f"{value.value:.3f} (no interval)"
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"


def _error_bars(values: Sequence[MetricValue]) -> dict:
    """Asymmetric bars from the bootstrap interval; none where a value has no interval."""

    def span(v: MetricValue, end: float | None) -> float | None:
        return None if v.value is None or end is None else abs(end - v.value)

    return {
        "type": "data",
        "symmetric": False,
        "array": [span(v, v.high) for v in values],
        "arrayminus": [span(v, v.low) for v in values],
        "visible": True,
    }


def category_metric_bars(
    metrics: Sequence[ModelMetrics], metric: str, names: Mapping[str, str]
) -> go.Figure:
    """One bar group per category (label names, codebook order from the top), one bar per
    model coder, with 95 % bootstrap intervals as error bars; an undefined value leaves a gap.
    Bars run across so that twenty long category names stay readable."""
    if metric not in CATEGORY_METRICS:
        raise InvalidRequest(
            f"No per-category metric {metric!r}; choose one of {', '.join(CATEGORY_METRICS)}."
        )
    colours = coder_colours([m.model for m in metrics])
    fig = go.Figure()
    for m in metrics:
        values = [getattr(c, metric) for c in m.per_category]
        fig.add_trace(
            go.Bar(
                name=_plain(m.model),
                orientation="h",
                y=_ticks([names.get(c.label, c.label) for c in m.per_category]),
                x=[v.value for v in values],
                error_x=_error_bars(values),
                marker_color=colours[m.model],
                customdata=[
                    [_interval(v), c.support, v.n]
                    for v, c in zip(values, m.per_category, strict=True)
                ],
                hovertemplate="%{y}: %{customdata[0]}<br>support %{customdata[1]} of n="
                "%{customdata[2]} texts<extra>%{fullData.name}</extra>",
            )
        )
    categories = len(metrics[0].per_category) if metrics else 0
    fig.update_layout(
        barmode="group",
        height=max(320, 120 + categories * (10 + 12 * len(metrics))),
        yaxis={"title": "Category", "type": "category", "autorange": "reversed", "dtick": 1},
        xaxis={"title": f"{CATEGORY_METRICS[metric]} (0–1)", "range": SCORE_RANGE},
        legend=LEGEND_ABOVE,
        margin={"t": 60},
    )
    return fig


def size_points(
    metrics: Sequence[ModelMetrics], sizes: pd.DataFrame, metric: str = "accuracy"
) -> pd.DataFrame:
    """One row per model coder: its size (see classify_results.model_sizes; NaN when unknown)
    beside the metric's value, interval, n and the reason a value is missing."""
    by_coder = sizes.set_index("coder") if not sizes.empty else pd.DataFrame()
    rows = []
    for m in metrics:
        value = m.overall[metric]
        known = m.model in by_coder.index
        rows.append(
            {
                "coder": m.model,
                "file_size_mb": by_coder.at[m.model, "file_size_mb"] if known else None,
                "parameters_m": by_coder.at[m.model, "parameters_m"] if known else None,
                "value": value.value,
                "low": value.low,
                "high": value.high,
                "n": value.n,
                "reason": value.reason,
            }
        )
    columns = ["coder", "file_size_mb", "parameters_m", "value", "low", "high", "n", "reason"]
    return pd.DataFrame(rows, columns=columns)


def metric_by_size(
    points: pd.DataFrame, x: str = "file_size_mb", metric: str = "accuracy"
) -> go.Figure:
    """One labelled point per model coder (size_points' rows with a size and a value), the
    metric's 95 % bootstrap interval as its error bar."""
    if x not in SIZE_AXES:
        raise InvalidRequest(f"Model size is {' or '.join(SIZE_AXES)}, not {x!r}.")
    colours = coder_colours(list(points.coder))
    fig = go.Figure()
    for p in points.itertuples():
        if pd.isna(getattr(p, x)) or pd.isna(p.value):
            continue
        value = MetricValue(
            p.value,
            None if pd.isna(p.low) else p.low,
            None if pd.isna(p.high) else p.high,
            int(p.n),
        )
        fig.add_trace(
            go.Scatter(
                name=_plain(p.coder),
                x=[getattr(p, x)],
                y=[p.value],
                error_y=_error_bars([value]),
                mode="markers+text",
                text=[_plain(_short(p.coder))],
                textposition="top center",
                cliponaxis=False,
                marker={"size": 12, "color": colours[p.coder]},
                customdata=[[_interval(value), value.n]],
                hovertemplate=f"%{{fullData.name}}<br>{SIZE_AXES[x]} %{{x:,.0f}}<br>"
                "%{customdata[0]}, n=%{customdata[1]} texts<extra></extra>",
            )
        )
    widest = max((t.x[0] for t in fig.data), default=0)
    fig.update_layout(
        # From zero, with room on the right for the last point's name.
        xaxis={"title": SIZE_AXES[x], "range": [0, 1.3 * widest] if widest > 0 else None},
        yaxis={"title": f"{OVERALL_TITLES.get(metric, metric)} (0–1)", "range": SCORE_RANGE},
        showlegend=False,  # every point carries its coder's name
        margin={"t": 30},
    )
    return fig


def confusion_heatmap(
    metrics: ModelMetrics, names: Mapping[str, str], reference: str = "verified"
) -> go.Figure:
    """Reference labels down, the model's labels across (plus "no answer"), texts per cell."""
    if metrics.confusion is None:
        raise InvalidRequest(
            "A confusion matrix needs single-label coding; this coding is multi-label."
        )
    table = metrics.confusion
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=_ticks([names.get(c, c) for c in table.columns]),
            y=_ticks([names.get(c, c) for c in table.index]),
            colorscale="Blues",
            colorbar={"title": {"text": "Texts"}},
            texttemplate="%{z}",
            hovertemplate=f"{reference}: %{{y}}<br>model: %{{x}}<br>%{{z}} texts<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(360, 200 + 26 * len(table.index)),
        xaxis={"title": "Label the model gave", "type": "category", "dtick": 1},
        yaxis={
            "title": f"Reference label ({reference})",
            "type": "category",
            "dtick": 1,  # every label named, not every other one
            "autorange": "reversed",  # codebook order from the top, as a table reads
        },
        margin={"t": 30},
    )
    return fig
