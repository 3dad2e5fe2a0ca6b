"""A learning curve as a Plotly figure: one metric against the number of training texts n, one
line per model · method with its interval as a shaded band. Table in, figure out; no
Streamlit. Figures carry data only (nothing fetched), and names go in escaped, as in
core/app/classify_charts.py.

n spans 0 to hundreds, so the x axis is log-like: log2(1 + n), ticked at the measured sizes,
which keeps n = 0 on the axis (a log axis cannot show it) and spreads 8, 16, 32, ... evenly."""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.app.classify_charts import LEGEND_ABOVE, OVERALL_TITLES, SCORE_RANGE

METHOD_NAMES = {"kshot": "k-shot", "probe": "probe", "lora": "LoRA"}
METHOD_DASH = {"kshot": "solid", "probe": "dash", "lora": "dot"}


def x_position(n: int) -> float:
    return math.log2(1 + n)


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    red, green, blue = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def curve_figure(table: pd.DataFrame, metric: str, shots: int | None = None) -> go.Figure:
    """`table`: core/app/learn_curve.table (model, method, n_train, repeats, n_texts, and
    `metric`, `metric_low`, `metric_high`). Points without a value (skipped) are left out."""
    fig = go.Figure()
    shown = table.dropna(subset=[metric]) if not table.empty else table
    palette = qualitative.Plotly
    lines = list(dict.fromkeys(zip(shown.model, shown.method, strict=True))) if len(shown) else []
    for i, (model, method) in enumerate(lines):
        part = shown[(shown.model == model) & (shown.method == method)].sort_values("n_train")
        color = palette[i % len(palette)]
        x = [x_position(n) for n in part.n_train]
        name = html.escape(f"{model} · {METHOD_NAMES.get(method, method)}", quote=False)
        if method == "kshot" and shots:
            name += f" (k = {shots})"
        banded = part.dropna(subset=[f"{metric}_low", f"{metric}_high"])
        if len(banded):
            band_x = [x_position(n) for n in banded.n_train]
            fig.add_trace(
                go.Scatter(
                    x=band_x + band_x[::-1],
                    y=list(banded[f"{metric}_high"]) + list(banded[f"{metric}_low"])[::-1],
                    mode="lines",  # else plotly marks each corner of the band
                    fill="toself",
                    fillcolor=_rgba(color, 0.15),
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=part[metric],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": color, "dash": METHOD_DASH.get(method, "solid")},
                customdata=list(
                    zip(
                        part.n_train,
                        part[f"{metric}_low"],
                        part[f"{metric}_high"],
                        part.repeats,
                        part.n_texts,
                        strict=True,
                    )
                ),
                hovertemplate=f"{name}<br>n = %{{customdata[0]}}<br>"
                f"{OVERALL_TITLES.get(metric, metric)} %{{y:.3f}} "
                "[%{customdata[1]:.3f}, %{customdata[2]:.3f}]<br>"
                "repeats %{customdata[3]}, held-out texts %{customdata[4]}<extra></extra>",
            )
        )
    sizes = sorted(set(table.n_train)) if not table.empty else []
    fig.update_layout(
        xaxis={
            "title": "Labelled training texts n",
            "tickvals": [x_position(n) for n in sizes],
            "ticktext": [str(n) for n in sizes],
        },
        yaxis={"title": OVERALL_TITLES.get(metric, metric), "range": SCORE_RANGE},
        legend=LEGEND_ABOVE,
        margin={"t": 60},
    )
    return fig
