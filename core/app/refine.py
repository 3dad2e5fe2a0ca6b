"""Use case: a stored, streamed self-refinement, and reading one back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from core.app import context
from core.app.runs import settle
from core.engine import Backend
from core.errors import PerficsError
from core.evaluation.lifecycle import this_process
from core.evaluation.refine import OnStep, OnToken, run_refinement
from core.evaluation.textdiff import change_ratio
from core.store import Store
from core.types import RefineOutcome, RefineRequest, RunRecord, RunStatus

SCREEN_LEFT = "the page was rerun or left while it ran"
STOP_PRESSED = "Stop was pressed"
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
ENDED = (RunStatus.INTERRUPTED, RunStatus.STOPPED)  # how the lifecycle may have ended it


class _ScreenInterrupted(BaseException):
    """A callback of the screen drawing the run was interrupted by the screen itself. In the
    dashboard, Stop (or any other control, or leaving the page) makes Streamlit start the
    page again and stop the script that drives the run, by raising its own BaseException at
    that script's next st call."""

    def __init__(self, signal: BaseException):
        super().__init__(type(signal).__name__)
        self.signal = signal


_NOT_FROM_THE_SCREEN = (KeyboardInterrupt, SystemExit, GeneratorExit)


def _guarded(callback: Callable | None) -> Callable | None:
    if callback is None:
        return None

    def call(*args):
        try:
            callback(*args)
        except (Exception, *_NOT_FROM_THE_SCREEN):
            raise
        except BaseException as signal:  # the screen's own control flow (a Streamlit rerun)
            raise _ScreenInterrupted(signal) from signal

    return call


def _reword(store: Store, run_id: str, status: RunStatus, why: str, was: tuple) -> bool:
    """Say how a run this process was working on ended; only from the statuses in `was`, so
    a finished run or one another process took over is never touched."""
    return store.runs.end_if_owned(run_id, this_process(), status, why, from_status=was)


def _screen_ended(store: Store, run_id: str) -> None:
    """After the lifecycle stored the run as interrupted: stopped if Stop asked for it, else
    cut short by the page. Stop's request and this read may come in either order; see
    stopped_by_user for the other half."""
    try:
        if store.runs.stop_requested(run_id):
            _reword(store, run_id, RunStatus.STOPPED, STOP_PRESSED, ENDED)
        else:
            _reword(store, run_id, RunStatus.INTERRUPTED, SCREEN_LEFT, (RunStatus.INTERRUPTED,))
    except PerficsError:
        pass  # a busy database: the lifecycle has already ended it as interrupted


def refine(
    backend: Backend,
    request: RefineRequest,
    on_step: OnStep = None,
    on_token: OnToken = None,
    on_start: Callable[[str], None] | None = None,
) -> RefineOutcome:
    """Never raises a domain error: a refused request comes back with run_id None, a failed
    run with its id (its finished steps are kept) and the error. on_start gets the run id as
    soon as the run exists, so a screen can find the run again if it is stopped part-way.

    A callback interrupted by the screen (a Streamlit rerun or stop) ends the run, with its
    finished steps, as stopped (if stopped_by_user asked for it) or interrupted, never
    "running"; the screen's own exception then goes on unchanged."""
    started: list[str] = []

    def start(run_id: str) -> None:
        started.append(run_id)
        if on_start:
            on_start(run_id)

    store = None
    try:
        store = context.store()
        store.init(write=True)  # a locked or read-only database fails here, before any work
        return run_refinement(
            store, backend, request, _guarded(on_step), _guarded(on_token), _guarded(start)
        )
    except PerficsError as exc:
        return RefineOutcome(None, None, exc)
    except _ScreenInterrupted as interrupted:
        if started:
            _screen_ended(store, started[0])
        raise interrupted.signal from None


def stopped_by_user(run_ids: list[str]) -> None:
    """The user pressed Stop on the screen running these refinements. With Streamlit's fast
    reruns the page starts again at once, while the old script runs on until its next st
    call, where the interruption ends the run (see refine). So: ask the run to stop (the
    interruption then records it as stopped), and turn one already ended as interrupted into
    stopped. Either order ends stopped. Runs that finished first are left as they are."""
    store = context.store()
    for run_id in run_ids:
        store.runs.request_stop(run_id)
        _reword(store, run_id, RunStatus.STOPPED, STOP_PRESSED, ENDED)


def wait_for_end(run_ids: list[str], timeout_s: float = 120.0, poll_s: float = 0.2) -> bool:
    """Wait until none of these runs is queued or running any more (a refinement whose screen
    was just stopped ends at its next token); False if one still is after timeout_s."""
    store = context.store()
    deadline = time.monotonic() + timeout_s
    while any(store.runs.get(run_id).status in ACTIVE for run_id in run_ids):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


@dataclass(frozen=True)
class StoredRefinement:
    """A refinement read back from the store, with what its screen summarises."""

    run: RunRecord
    steps: pd.DataFrame  # one row per step, in order
    baseline: str | None  # None when not even the baseline finished
    final: str | None  # the last rewrite, else the baseline
    rounds_done: int
    words_changed: float  # share of words that differ between baseline and final
    completion_tokens: int
    seconds: float
    prompt_tokens: int
    prompt_tokens_reused: int


def stored_refinement(run_id: str) -> StoredRefinement:
    store = context.store()
    steps = store.generations.steps(run_id)
    texts = dict(zip(steps.kind, steps.text, strict=True))  # the last step of each kind wins
    baseline = texts.get("baseline")
    final = texts.get("refined", baseline)
    tokens, seconds, prompt, reused = store.generations.run_totals(run_id)
    return StoredRefinement(
        run=store.runs.get(run_id),
        steps=steps,
        baseline=baseline,
        final=final,
        rounds_done=int((steps.kind == "refined").sum()),
        words_changed=change_ratio(baseline or "", final or ""),
        completion_tokens=int(tokens),
        seconds=float(seconds),
        prompt_tokens=int(prompt),
        prompt_tokens_reused=int(reused),
    )


def refine_history(limit: int = 200) -> pd.DataFrame:
    """Past refinements, newest first; one whose process died mid-run shows as interrupted."""
    store = context.store()
    return settle(store, store.runs.refine_history(limit))
