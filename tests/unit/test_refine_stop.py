"""A refinement cut short by its screen: Streamlit reruns the page on Stop (or any other
control) by raising its own BaseException at the next st call, inside our streaming callback.
The run must end stored as interrupted, or as stopped once the screen says it was Stop, never
left "running", and Streamlit's exception must reach Streamlit unchanged."""

import pytest

from core.app.refine import SCREEN_LEFT, STOP_PRESSED, refine, stopped_by_user, wait_for_end
from core.engine.fake import FakeBackend
from core.types import RefineRequest, RunStatus
from tests.support import scripted


class ScreenRerun(BaseException):
    """Stands in for streamlit's RerunException (a BaseException, not an Exception)."""


def _interrupt_at(kind: str):
    rerun = ScreenRerun()

    def on_token(round_no, step_kind, piece):
        if step_kind == kind:
            raise rerun

    return rerun, on_token


def _stopped_run(store, kind="critique"):
    rerun, on_token = _interrupt_at(kind)
    started = []
    with pytest.raises(ScreenRerun) as raised:
        refine(
            FakeBackend(responder=scripted()),
            RefineRequest("Q?", 2),
            on_token=on_token,
            on_start=started.append,
        )
    assert raised.value is rerun  # the screen gets its own exception back, unchanged
    (run_id,) = started
    return run_id


def test_a_screen_rerun_ends_the_run_interrupted_with_its_steps(store):
    run_id = _stopped_run(store)
    run = store.runs.get(run_id)
    assert run.status == RunStatus.INTERRUPTED and run.error == SCREEN_LEFT
    assert run.finished_at is not None
    assert list(store.generations.steps(run_id).kind) == ["baseline"]
    assert list(store.runs.refine_history().status) == ["interrupted"]


def test_stop_turns_the_interrupted_run_into_a_stopped_one(store):
    """Fast reruns: the interrupted script may end the run before Stop's click is handled."""
    run_id = _stopped_run(store, kind="refined")
    stopped_by_user([run_id])
    run = store.runs.get(run_id)
    assert run.status == RunStatus.STOPPED and run.error == STOP_PRESSED
    assert list(store.generations.steps(run_id).kind) == ["baseline", "critique", "verdict"]


def test_stop_asked_for_before_the_interruption_ends_the_run_stopped(store):
    """...or Stop's click is handled first, while the old script still runs: the run is
    asked to stop, and the interruption at its next st call records it as stopped."""
    rerun = ScreenRerun()
    started = []

    def on_token(round_no, kind, piece):
        if kind == "critique":
            stopped_by_user(started)  # the new script run's click handler
            raise rerun

    with pytest.raises(ScreenRerun):
        refine(
            FakeBackend(responder=scripted()),
            RefineRequest("Q?", 2),
            on_token=on_token,
            on_start=started.append,
        )
    run = store.runs.get(started[0])
    assert run.status == RunStatus.STOPPED and run.error == STOP_PRESSED
    assert wait_for_end(started, timeout_s=0)


def test_stop_leaves_a_run_that_finished_first_alone(store):
    outcome = refine(FakeBackend(responder=scripted()), RefineRequest("Q?", 1))
    stopped_by_user([outcome.run_id])
    assert store.runs.get(outcome.run_id).status == RunStatus.COMPLETED


def test_ctrl_c_is_not_taken_for_the_screen(store):
    def on_token(round_no, kind, piece):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refine(FakeBackend(responder=scripted()), RefineRequest("Q?", 1), on_token=on_token)
    (run_id,) = store.runs.refine_history().id
    run = store.runs.get(run_id)
    assert run.status == RunStatus.INTERRUPTED and "Ctrl+C" in run.error
