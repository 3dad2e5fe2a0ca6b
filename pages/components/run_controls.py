"""Resume, Stop and Delete for one background run, shared by the Benchmarks and Quantization
pages. Always the same three controls, enabled as the run's state allows: a layout that never
changes shape, so no control jumps (or lingers as a stale copy) while a panel polls."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.app import runs
from core.errors import PerficsError
from core.types import RunStatus


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
    active = status in (RunStatus.RUNNING, RunStatus.QUEUED)
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
