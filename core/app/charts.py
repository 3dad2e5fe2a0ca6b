"""DataFrame in, Plotly figure out. No Streamlit here, so the CLI or a notebook can reuse them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.ranking.cost import BreakEven
from core.ranking.perfics import COST_COLUMN

COST_LABEL = {
    "memory": "Memory footprint (GB)",
    "latency": "Seconds per answer",
    "money": "Money per 1,000 answers ({currency})",
}


def cost_label(basis: str, currency: str = "USD") -> str:
    return COST_LABEL[basis].format(currency=currency)


def tradeoff_scatter(
    ranked: pd.DataFrame, points: pd.DataFrame, basis: str, currency: str = "USD"
) -> go.Figure:
    """Quality against cost per model, each model's baseline-to-refined move, and the Pareto
    frontier of the ranked models. Quality is on [0, 1], so the axis is fixed to it (a single
    point would otherwise be autoscaled to -1..3), with room above for the model names."""
    fig = go.Figure()
    if not points.empty:
        for model, group in points.groupby("model"):
            fig.add_trace(
                go.Scatter(
                    x=group[COST_COLUMN[basis]],
                    y=group.performance,
                    mode="lines+markers",
                    line={"dash": "dot"},
                    marker={"symbol": "circle-open", "size": 9},
                    name=f"{model} by round",
                    text=group.stage,
                    hovertemplate="%{text}, round %{customdata}<br>quality %{y:.2f}<br>"
                    f"{cost_label(basis, currency)} %{{x:.3g}}<extra></extra>",
                    customdata=group["round"],
                )
            )
    if not ranked.empty:
        hover = [
            f"{r.model}<br>PeRFICS {r.perfics:.3f} (rank {r.rank})<br>quality {r.performance:.2f}"
            f" (gain {r.gain:+.2f}, n={r.quality_items} answers, {r.performance_source})<br>"
            f"{r.quantization or '?'} · {r.tokens_per_s or 0:.0f} tok/s · "
            f"{r.generations} generations"
            for r in ranked.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=ranked[COST_COLUMN[basis]],
                y=ranked.performance,
                mode="markers+text",
                text=ranked.model,
                textposition="top center",
                marker={"size": 14},
                cliponaxis=False,
                name="models (refined)",
                hovertext=hover,
                hoverinfo="text",
            )
        )
        front = ranked[ranked.on_pareto].sort_values(COST_COLUMN[basis])
        fig.add_trace(
            go.Scatter(
                x=front[COST_COLUMN[basis]],
                y=front.performance,
                mode="lines",
                line={"shape": "hv", "width": 2},
                name="Pareto frontier",
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        xaxis_title=cost_label(basis, currency),
        yaxis_title="Quality (0–1)",
        yaxis={"range": [-0.05, 1.12]},
        # Above the plot: below it, a horizontal legend covers the x-axis title.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis={"rangemode": "tozero"},  # no cost is negative, even with a single point
        margin={"t": 60},
    )
    return fig


def category_improvement(per_category: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for model, group in per_category.groupby("model"):
        fig.add_trace(
            go.Bar(
                x=group.category,
                y=group.improvement_pct,
                name=model,
                customdata=group["quality_items"],
                hovertemplate="%{x}: %{y:+.1f}% (n=%{customdata})<extra></extra>",
            )
        )
    fig.update_layout(
        yaxis_title="Improvement % (refined vs baseline)", barmode="group", margin={"t": 30}
    )
    return fig


def improvement_by_rounds(df: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for model, group in df.groupby("model"):
        fig.add_trace(
            go.Scatter(
                x=group.rounds_setting,
                y=group.improvement_pct,
                mode="lines+markers",
                name=model,
                customdata=group["quality_items"],
                hovertemplate="%{x} round(s): %{y:+.1f}% (n=%{customdata})<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="Refinement rounds",
        yaxis_title="Improvement %",
        xaxis={"dtick": 1},
        margin={"t": 30},
    )
    return fig


def break_even(curve: BreakEven, api_name: str, currency: str = "USD") -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=curve.volumes, y=curve.local_monthly, name="local (measured)", mode="lines")
    )
    fig.add_trace(go.Scatter(x=curve.volumes, y=curve.api_monthly, name=api_name, mode="lines"))
    if curve.crossing is not None:
        fig.add_vline(
            x=curve.crossing,
            line_dash="dash",
            annotation_text=f"break-even ≈ {curve.crossing:,.0f} requests/month",
        )
    fig.update_layout(
        xaxis_title="Requests per month",
        yaxis_title=f"Cost per month ({currency})",
        margin={"t": 30},
    )
    return fig


def ladder_chart(table: pd.DataFrame) -> go.Figure:
    """A quantization ladder against file size, one point per type: likelihood quality with
    its 95 % interval when the ladder was measured on a suite (higher is better), otherwise
    perplexity with its ± (lower is better); mean KLD from the source on a second axis."""
    fig = go.Figure()
    if table["Quality"].notna().any():
        y, name = table["Quality"], "Likelihood quality"
        error = {
            "type": "data",
            "symmetric": False,
            "array": table["Quality high"] - table["Quality"],
            "arrayminus": table["Quality"] - table["Quality low"],
        }
        y_title = "Likelihood quality on the suite (higher is better)"
    else:
        y, name = table["Perplexity"], "Perplexity"
        error = {"type": "data", "array": table["Perplexity ±"]}
        y_title = "Perplexity on the text (lower is better)"
    fig.add_trace(
        go.Scatter(
            x=table["File (MiB)"],
            y=y,
            error_y={**error, "visible": True},
            mode="lines+markers+text",
            text=table["Type"],
            textposition="top center",
            name=name,
            hovertemplate="%{text}: %{x:.1f} MiB<br>" + name.lower() + " %{y:.3f}<extra></extra>",
        )
    )
    copies = table[table["Mean KLD (nats)"].notna()]
    fig.add_trace(
        go.Scatter(
            x=copies["File (MiB)"],
            y=copies["Mean KLD (nats)"],
            error_y={"type": "data", "array": copies["KLD ±"], "visible": True},
            mode="markers",
            marker={"symbol": "diamond-open", "size": 10},
            text=copies["Type"],
            name="Mean KLD from the source",
            yaxis="y2",
            hovertemplate="%{text}: %{x:.1f} MiB<br>mean KLD %{y:.5f} nats<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="File size (MiB)",
        yaxis_title=y_title,
        yaxis2={
            "title": "Mean KLD (nats)",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 30},
    )
    return fig
