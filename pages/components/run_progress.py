"""A benchmark run's progress line ("running · 3 of 12 items · about 4 min left") and bar,
polled every two seconds while the run is queued or running. When the run ends the whole
page reruns, so whatever the page draws from the run's results fills in."""

from __future__ import annotations

import streamlit as st

from core.app import runs
from core.app.formatting import progress_text
from core.errors import PerficsError
from core.types import RunState
from pages.components.text import escape

POLL_S = 2.0


def progress_line(state: RunState) -> str:
    return f"**{state.status}** · {progress_text(state)}"


def _live(run_id: str) -> None:
    try:  # the fragment reruns on its own, outside app.py's last line of defence
        state = runs.run_state(run_id)
    except PerficsError as exc:
        st.error(str(exc))
        return
    st.markdown(progress_line(state))
    st.progress(state.fraction)
    if not state.status.active:
        st.rerun()  # it has ended: redraw the page with everything it finished


def run_progress(run_id: str) -> None:
    """The line for any run; the bar and polling only while it is queued or running."""
    try:
        state = runs.run_state(run_id)
    except PerficsError as exc:
        st.error(str(exc))
        return
    if state.status.active:
        st.fragment(run_every=POLL_S)(_live)(run_id)
        return
    st.markdown(progress_line(state))
    if state.error:
        st.caption(f"Last error: {escape(state.error)}")
