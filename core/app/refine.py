"""Use case: a stored, streamed self-refinement, and reading one back."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.app import context
from core.app.runs import settle
from core.engine import Backend
from core.errors import PerficsError
from core.evaluation.refine import OnStep, OnToken, run_refinement
from core.evaluation.textdiff import change_ratio
from core.types import RefineOutcome, RefineRequest, RunRecord


def refine(
    backend: Backend, request: RefineRequest, on_step: OnStep = None, on_token: OnToken = None
) -> RefineOutcome:
    """Never raises a domain error: a refused request comes back with run_id None, a failed
    run with its id (its finished steps are kept) and the error."""
    try:
        store = context.store()
        store.init()  # a locked or unwritable database fails here, before any work
        return run_refinement(store, backend, request, on_step, on_token)
    except PerficsError as exc:
        return RefineOutcome(None, None, exc)


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
