"""Use cases for likelihood runs: plan, start, and read their results. Stop, resume, delete
and the list of runs are the benchmark's own (core/app/runs.py): the same worker runs both."""

from __future__ import annotations

import pandas as pd

from core.app import context, worker
from core.evaluation.likelihood import create_likelihood_run, plan_likelihood
from core.evaluation.likelihood_results import LikelihoodResults, likelihood_results
from core.types import ItemKind, LikelihoodPlan, LikelihoodSpec, Question, RunKind

__all__ = [
    "LikelihoodResults",
    "create",
    "is_likelihood",
    "plan",
    "questions",
    "results",
    "start",
    "unit",
]


def _seconds(units: pd.DataFrame, speeds: pd.DataFrame) -> tuple[float | None, int]:
    """Seconds for the planned units at the speeds measured before, with n; None when some
    model and measure has no measurement yet."""
    if units.empty:
        return 0.0, 0
    counts = units.groupby(["model", "kind"]).size().rename("units").reset_index()
    joined = counts.merge(speeds, on=["model", "kind"], how="left")
    if joined.seconds.isna().any():
        return None, int(joined.n.fillna(0).sum())
    return float((joined.units * joined.seconds).sum()), int(joined.n.sum())


def plan(spec: LikelihoodSpec) -> LikelihoodPlan:
    """How many units the run would have and how long it should take, from likelihood units
    measured in this store; raises what create() would for a bad request."""
    store = context.store()
    config, units, left_out = plan_likelihood(store, spec)
    table = pd.DataFrame(
        {"model": [u.key.model for u in units], "kind": [str(u.key.kind) for u in units]}
    )
    seconds, measured = _seconds(table, store.likelihood.unit_speeds())
    return LikelihoodPlan(
        questions=len(config.question_ids),
        mc_units=int((table.kind == ItemKind.MC_LIKELIHOOD).sum()),
        reference_units=int((table.kind == ItemKind.REFERENCE_LIKELIHOOD).sum()),
        left_out=left_out,
        seconds=seconds,
        measured_units=measured,
    )


def create(spec: LikelihoodSpec) -> str:
    from core.engine.llama import llama_cpp_version

    return create_likelihood_run(context.store(), spec, llama_cpp_version())


def start(spec: LikelihoodSpec) -> str:
    """Create the run and hand it to a background worker; returns its id."""
    run_id = create(spec)
    worker.launch(run_id)
    return run_id


def is_likelihood(run_id: str) -> bool:
    return context.store().runs.get(run_id).kind == RunKind.LIKELIHOOD


def results(run_id: str) -> LikelihoodResults:
    return likelihood_results(context.store(), run_id)


def unit(run_id: str, item_no: int) -> pd.DataFrame:
    """One unit's scored continuations, for a drill-down."""
    return context.store().likelihood.scores(run_id, item_no)


def questions(run_id: str) -> dict[str, Question]:
    """The questions of the run's suite, by id."""
    store = context.store()
    return {q.id: q for q in store.suites.questions(store.runs.get(run_id).config.suite)}
