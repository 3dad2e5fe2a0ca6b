"""Resume, Stop and Delete for one background run, shared by the Benchmarks, Quantization and
Classify pages. Always the same three controls, enabled as the run's state allows: a layout that
never changes shape, so no control jumps (or lingers as a stale copy) while a panel polls. Also
what the pages' lists of runs share: the picker of the run to control and the table's
"units" and "time left" columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.app import runs
from core.app.formatting import duration
from core.errors import PerficsError
from core.types import RunStatus

ACTIVE = (RunStatus.RUNNING, RunStatus.QUEUED)


def pick_run(table: pd.DataFrame, describe: Callable[[Any], str], key: str) -> str:
    """A picker of one run of a runs overview, each named `describe(row) · id`; a run that
    is gone (deleted) since it was picked is dropped from the picker's state first."""
    labels = {r.id: f"{describe(r)} · {r.id[:8]}" for r in table.itertuples()}
    if st.session_state.get(key) not in labels:
        st.session_state.pop(key, None)
    return st.selectbox("Run", list(labels), format_func=labels.get, key=key)


def with_units_and_time_left(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a runs overview with "units" ("3 of 12") and, for a queued or running run,
    "time left"."""
    shown = table.copy()
    shown["units"] = [f"{d} of {t}" for d, t in zip(shown.items_done, shown.total, strict=True)]
    shown["time left"] = [
        f"about {duration(e)}" if s in ACTIVE and pd.notna(e) else ""
        for s, e in zip(shown.status, shown.eta_s, strict=True)
    ]
    return shown


def _act(notice_key: str, notice: str) -> None:
    # A whole-page rerun, so that polling starts or stops with the run's new state.
    st.session_state[notice_key] = notice
    st.rerun()


def run_controls(
    run_id: str,
    status: RunStatus,
    prefix: str,
    delete_label: str = "Delete run",
    deleted_notice: str | None = None,
    on_deleted: Callable[[], None] | None = None,
) -> None:
    """Widgets keyed `{prefix}_resume`, `{prefix}_stop`, `{prefix}_delete`; the outcome is
    shown on the next run from st.session_state[f"{prefix}_notice"]."""
    notice_key = f"{prefix}_notice"
    active = status in ACTIVE
    c1, c2, c3 = st.columns(3)
    resume = c1.button(
        "Resume", key=f"{prefix}_resume", type="primary", disabled=not status.resumable
    )
    stop = c2.button("Stop", key=f"{prefix}_stop", disabled=not active)
    # Keyed by run: a confirmation never carries over to another run.
    confirm = c3.checkbox(
        "Confirm delete", key=f"{prefix}_delete_confirm_{run_id}", disabled=active
    )
    delete = c3.button(delete_label, key=f"{prefix}_delete", disabled=active or not confirm)
    try:
        if resume:
            _act(
                notice_key, f"Resuming in a background worker (process {runs.resume_run(run_id)})."
            )
        if stop:
            _act(notice_key, runs.stop_run(run_id))
        if delete:
            runs.delete_run(run_id)
            if on_deleted:
                on_deleted()
            _act(notice_key, deleted_notice or f"Deleted run {run_id}.")
    except PerficsError as exc:
        st.error(str(exc))
