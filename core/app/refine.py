"""Use case: a stored, streamed self-refinement, and reading one back."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.app import context
from core.engine import Backend
from core.errors import PerficsError
from core.evaluation.refine import OnStep, OnToken, run_refinement
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
    run: RunRecord
    steps: pd.DataFrame


def stored_refinement(run_id: str) -> StoredRefinement:
    store = context.store()
    return StoredRefinement(store.runs.get(run_id), store.generations.steps(run_id))


def refine_history(limit: int = 200) -> pd.DataFrame:
    return context.store().runs.refine_history(limit)
