"""Quick start: on a store without a benchmark run, one button that starts a first, small
benchmark of the local models in the background worker, its size and expected time shown
before it starts. While that run (or any newest run) is going, the empty pages that wait for
it show its progress instead, and fill in when it ends."""

from __future__ import annotations

import streamlit as st

from core.app import runs
from core.app.formatting import estimate_text
from core.errors import PerficsError, StoreError
from core.types import RunEstimate, RunSpec
from pages.components import resources
from pages.components.notices import show_error
from pages.components.run_progress import run_progress
from pages.components.text import escape

STARTED = "quick_start_run"  # session state: the run this session's Quick start began


def _offer(key: str, spec: RunSpec, plan: RunEstimate, gentle: bool) -> None:
    judge = f"judged by {spec.judge.name}" if spec.judge else "no judge"
    what = (
        f"{len(spec.models)} local model(s) ({', '.join(m.name for m in spec.models)}) on "
        f"{plan.questions} built-in questions spread over the categories, {spec.rounds} "
        f"refinement round, {judge}"
    )
    box = st.container(border=not gentle)
    if gentle:
        box.caption(f"No benchmark yet. **Quick start** runs {what}, in the background.")
    else:
        box.markdown(f"**Quick start**: benchmark {what}, in the background.")
    box.caption(f"Quick start: {estimate_text(plan)}")
    if box.button(
        "Quick start", key=f"{key}_quick_start", type="secondary" if gentle else "primary"
    ):
        try:
            run_id = runs.start_run(spec)
        except PerficsError as exc:
            box.error(str(exc))
            return
        st.session_state[STARTED] = run_id
        st.session_state["bench_manage"] = run_id
        st.rerun()  # every page now has a run to show


def quick_start(key: str, gentle: bool = False) -> None:
    """For a page's empty state. `gentle`: a page that is not empty (Models) offers it in a
    line and shows progress only for a run its own button started."""
    try:
        latest = runs.latest_state()
        if latest is not None:
            ours = st.session_state.get(STARTED) == latest.run_id
            if latest.status.active and (ours or not gentle):
                st.caption("A benchmark is running; what it finishes shows up here.")
                run_progress(latest.run_id)
            return
        spec = runs.quick_start_spec(resources.usable_models())
        plan = runs.estimate(spec)
    except StoreError as exc:
        # Said even where the offer is gentle: on the Models page this is the one read of the
        # store before a generation that could not be kept.
        show_error(exc)
        return
    except PerficsError as exc:
        if not gentle:
            st.caption(f"Quick start is not available: {escape(str(exc))}")
        return
    _offer(key, spec, plan, gentle)
