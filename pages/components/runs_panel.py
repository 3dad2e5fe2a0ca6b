"""The Benchmarks page's live list of runs, with Resume, Stop and Delete for one of them.

Every queued or running run's progress and time left come first. The panel polls the store
every two seconds while a run is queued or running, so progress, ETA and a worker that died
(shown as interrupted, with Resume) appear without reloading the page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import runs
from core.app.formatting import duration, progress_text
from core.errors import PerficsError
from core.types import RunStatus
from pages.components.quick_start import quick_start
from pages.components.results_view import run_label
from pages.components.text import escape

POLL_S = 2.0
ACTIVE = [RunStatus.RUNNING, RunStatus.QUEUED]
# Status and progress first: a wide table scrolls, and these are what a glance is for.
TABLE_COLUMNS = [
    "status",
    "kind",
    "progress",
    "items",
    "time left",
    "created_at",
    "suite",
    "models",
    "judge",
    "rounds",
    "error",
    "id",
]


def _summary(r: pd.Series) -> str:
    return f"Run `{r.id[:12]}` · **{r.status}** · {progress_text(runs.state_of(r))}"


def _table(table: pd.DataFrame) -> pd.DataFrame:
    shown = table.copy()
    shown["items"] = [f"{d} of {t}" for d, t in zip(shown.items_done, shown.total, strict=True)]
    shown["time left"] = [
        f"about {duration(e)}" if s in ACTIVE and pd.notna(e) else ""
        for s, e in zip(shown.status, shown.eta_s, strict=True)
    ]
    return shown[TABLE_COLUMNS]


def _act(notice: str) -> None:
    # A whole-page rerun, so that polling starts or stops with the run's new state.
    st.session_state["bench_notice"] = notice
    st.rerun()


def _controls(r: pd.Series) -> None:
    """Always the same three buttons, enabled as the run's state allows: a layout that never
    changes shape, so no control jumps (or lingers as a stale copy) while the panel polls."""
    status = RunStatus(r.status)
    active = status in (RunStatus.RUNNING, RunStatus.QUEUED)
    c1, c2, c3 = st.columns(3)
    resume = c1.button("Resume", key="bench_resume", type="primary", disabled=not status.resumable)
    stop = c2.button("Stop", key="bench_stop", disabled=not active)
    # Keyed by run: a confirmation never carries over to another run.
    confirm = c3.checkbox("Confirm delete", key=f"bench_delete_confirm_{r.id}", disabled=active)
    delete = c3.button("Delete run", key="bench_delete", disabled=active or not confirm)
    try:
        if resume:
            _act(f"Resuming in a background worker (process {runs.resume_run(r.id)}).")
        if stop:
            _act(runs.stop_run(r.id))
        if delete:
            runs.delete_run(r.id)
            st.session_state.pop("bench_manage", None)
            _act(f"Deleted run {r.id}.")
    except PerficsError as exc:
        st.error(str(exc))


def _draw() -> None:
    st.subheader("Runs")
    if notice := st.session_state.pop("bench_notice", None):
        st.info(notice)
    try:  # the fragment reruns on its own, outside app.py's last line of defence
        table = runs.overview()
    except PerficsError as exc:
        st.error(str(exc))
        return
    if table.empty:
        st.caption("No runs yet.")
        quick_start("bench")
        return
    by_id = table.set_index("id", drop=False)
    active = [r for _, r in by_id.iterrows() if r.status in ACTIVE]
    for r in active:  # progress first, above the picker and the table
        st.markdown(_summary(r))
        st.progress(float(r.progress))
    labels = {r.id: f"{run_label(r)} · {r.id[:8]}" for r in table.itertuples()}
    if st.session_state.get("bench_manage") not in labels:
        st.session_state.pop("bench_manage", None)
    pick = st.selectbox("Run", list(labels), format_func=labels.get, key="bench_manage")
    row = by_id.loc[pick]
    if row.status not in ACTIVE:
        st.markdown(_summary(row))
    if isinstance(row.error, str) and row.error:
        st.caption(f"Last error: {escape(row.error)}")
    _controls(row)
    st.dataframe(
        _table(table),
        hide_index=True,
        width="stretch",
        column_config={
            "status": st.column_config.TextColumn("Status"),
            "kind": st.column_config.TextColumn("Kind", help="benchmark or likelihood"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1),
            "items": st.column_config.TextColumn("Units done"),
            "time left": st.column_config.TextColumn("Time left"),
            "created_at": st.column_config.DatetimeColumn("Started (UTC)"),
            "suite": st.column_config.TextColumn("Suite"),
            "models": st.column_config.TextColumn("Models"),
            "judge": st.column_config.TextColumn("Judge"),
            "rounds": st.column_config.NumberColumn("Rounds"),
            "error": st.column_config.TextColumn("Last error"),
            "id": st.column_config.TextColumn("Run id"),
        },
    )


def runs_panel() -> None:
    try:
        active = runs.overview().status.isin(ACTIVE).any()
    except PerficsError as exc:
        st.error(str(exc))
        return
    st.fragment(run_every=POLL_S if active else None)(_draw)()
