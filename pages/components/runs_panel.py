"""The Benchmarks page's live list of runs, with Resume, Stop and Delete for one of them.

Every queued or running run's progress and time left come first. The panel polls the store
every two seconds while a run is queued or running, so progress, ETA and a worker that died
(shown as interrupted, with Resume) appear without reloading the page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import runs
from core.app.formatting import data_left_text, progress_text
from core.errors import PerficsError
from core.types import RunStatus
from pages.components.quick_start import quick_start
from pages.components.results_view import run_label
from pages.components.run_controls import ACTIVE, pick_run, run_controls, with_units_and_time_left
from pages.components.text import escape

POLL_S = 2.0
# Status and progress first: a wide table scrolls, and these are what a glance is for.
TABLE_COLUMNS = [
    "status",
    "kind",
    "progress",
    "units",
    "time left",
    "created_at",
    "suite",
    "models",
    "judge",
    "data_left_via",
    "rounds",
    "error",
    "id",
]


def _summary(r: pd.Series) -> str:
    left = data_left_text(r.data_left_via)
    note = f" · {escape(left)}" if left else ""
    return f"Run `{r.id[:12]}` · **{r.status}** · {progress_text(runs.state_of(r))}{note}"


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
    pick = pick_run(table, run_label, "bench_manage")
    row = by_id.loc[pick]
    if row.status not in ACTIVE:
        st.markdown(_summary(row))
    if isinstance(row.error, str) and row.error:
        st.caption(f"Last error: {escape(row.error)}")
    run_controls(
        row.id,
        RunStatus(row.status),
        "bench",
        on_deleted=lambda: st.session_state.pop("bench_manage", None),
    )
    st.dataframe(
        with_units_and_time_left(table)[TABLE_COLUMNS],
        hide_index=True,
        width="stretch",
        column_config={
            "status": st.column_config.TextColumn("Status"),
            "kind": st.column_config.TextColumn("Kind", help="benchmark or likelihood"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1),
            "units": st.column_config.TextColumn("Units done"),
            "time left": st.column_config.TextColumn("Time left"),
            "created_at": st.column_config.DatetimeColumn("Started (UTC)"),
            "suite": st.column_config.TextColumn("Suite"),
            "models": st.column_config.TextColumn("Models"),
            "judge": st.column_config.TextColumn("Judge"),
            "data_left_via": st.column_config.TextColumn(
                "Data left this machine via", help="Endpoints on another machine it used"
            ),
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
