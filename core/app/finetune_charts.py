"""A fine-tuning run's loss curve as a Plotly figure: the training loss of every optimiser step
(the mean over that batch's answer tokens) as a line, and the validation loss measured at each
checkpoint as points on the same axes. Records in, figure out; no Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from core.app.classify_charts import LEGEND_ABOVE
from core.types.finetune import FinetuneStep, FinetuneValidation

TRAIN_NAME = "training loss (each step's batch)"
VALIDATION_NAME = "validation loss (all validation texts)"


def loss_figure(
    steps: Sequence[FinetuneStep], validations: Sequence[FinetuneValidation], total_steps: int
) -> go.Figure:
    """x: optimiser step, 1 to `total_steps` (the axis spans the whole run while it trains)."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[s.step for s in steps],
            y=[s.loss for s in steps],
            mode="lines+markers" if len(steps) < 60 else "lines",
            name=TRAIN_NAME,
            customdata=[(s.epoch, s.tokens, s.seconds) for s in steps],
            hovertemplate=(
                "step %{x} (epoch %{customdata[0]})<br>loss %{y:.4f}<br>"
                "%{customdata[1]} tokens in %{customdata[2]:.1f} s<extra></extra>"
            ),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[v.step for v in validations],
            y=[v.loss for v in validations],
            mode="markers",
            marker={"symbol": "diamond", "size": 10},
            name=VALIDATION_NAME,
            customdata=[v.n_examples for v in validations],
            hovertemplate=(
                "after step %{x}<br>validation loss %{y:.4f}<br>"
                "over %{customdata} texts<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        xaxis_title="optimiser step",
        yaxis_title="loss (cross-entropy per answer token)",
        legend=LEGEND_ABOVE,
        margin={"t": 40},
        height=360,
    )
    fig.update_xaxes(range=[0.5, max(total_steps, 1) + 0.5])
    return fig
