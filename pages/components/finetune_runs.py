"""The Fine-tune page's runs: one run's progress (steps done of all, time left, tokens per
second) and its live loss curve, polled while it trains; Resume / Stop / Delete as on the
other run pages (run_controls); and the list of every run."""

from __future__ import annotations

import streamlit as st

from core.app import finetune
from core.app.finetune_charts import loss_figure
from core.app.formatting import duration
from core.errors import PerficsError
from core.types import RunState, RunStatus
from pages.components import resources
from pages.components.run_controls import pick_run, run_controls, with_units_and_time_left
from pages.components.text import escape

POLL_S = 2.0
COLUMNS = {
    "status": "Status",
    "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1),
    "units": "Steps done",
    "time left": "Time left",
    "adapter": "Adapter",
    "model": "Base model",
    "dataset": "Dataset",
    "codebook": "Codebook",
    "labels": "Labels",
    "train_texts": "Training texts",
    "validation_texts": "Validation texts",
    "tokens_per_s": st.column_config.NumberColumn("Tokens/s", format="%.1f"),
    "created_at": st.column_config.DatetimeColumn("Started (UTC)"),
    "id": "Run id",
}


def progress_line(state: RunState, tokens_per_s: float | None) -> str:
    """ "**running** · 12 of 40 steps · about 3 min left · 151 tokens/s"."""
    text = f"**{state.status}** · {state.done} of {state.total} steps"
    if state.status.active:
        left = state.eta_s
        text += (
            f" · about {duration(left)} left" if left is not None else " · time left not known yet"
        )
    if tokens_per_s is not None:
        text += f" · {tokens_per_s:.0f} tokens/s"
    return text


def _draw(run_id: str) -> RunState:
    state = finetune.state(run_id)
    st.markdown(progress_line(state, finetune.tokens_per_second(run_id)))
    if state.status.active:
        st.progress(state.fraction)
    elif state.error:
        st.caption(f"Last error: {escape(state.error)}")
    curve = finetune.loss_curve(run_id)
    if curve.steps or curve.validations:
        figure = loss_figure(curve.steps, curve.validations, state.total)
        st.plotly_chart(figure, key=f"ft_loss_{run_id}")
    elif state.status.active:
        st.caption("The loss curve starts with the first step (loading the model comes first).")
    return state


def _live(run_id: str) -> None:
    try:  # the fragment reruns on its own, outside app.py's last line of defence
        state = _draw(run_id)
    except PerficsError as exc:
        st.error(str(exc))
        return
    if not state.status.active:
        resources.rescan()  # a finished run wrote an adapter: list it
        st.rerun()


def _describe(r) -> str:
    return f"{r.created_at:%Y-%m-%d %H:%M} · {r.adapter} · {r.model} · {r.dataset}"


def finetune_runs() -> None:
    st.subheader("Fine-tuning runs")
    if notice := st.session_state.pop("ft_ctl_notice", None):
        st.info(notice)
    table = finetune.runs()
    if table.empty:
        st.caption("No fine-tuning run yet: start one above.")
        return
    if st.session_state.get("ft_run") in set(table.id):  # just started: show it
        st.session_state["ft_pick"] = st.session_state.pop("ft_run")
    run_id = pick_run(table, _describe, "ft_pick")
    status = RunStatus(table.set_index("id").status[run_id])
    if status.active:
        st.fragment(run_every=POLL_S)(_live)(run_id)
    else:
        _draw(run_id)
    run_controls(
        run_id,
        status,
        "ft_ctl",
        deleted_notice=f"Deleted run {run_id} and its checkpoints (an adapter it wrote stays).",
        on_deleted=lambda: st.session_state.pop("ft_pick", None),
    )
    st.dataframe(
        with_units_and_time_left(table)[list(COLUMNS)],
        hide_index=True,
        width="stretch",
        column_config=COLUMNS,
        key="ft_runs_table",
    )
