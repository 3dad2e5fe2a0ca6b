"""Use cases for reading a benchmark's results and voting in the arena."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.app import context
from core.errors import InvalidRequest
from core.evaluation import arena
from core.evaluation.results import RunResults, item_table, run_results
from core.types import ArenaPair, Question, RunKind

__all__ = [
    "ArenaState",
    "RunResults",
    "arena_state",
    "cast_vote",
    "measured_run_kind",
    "results",
    "run_details",
]

# Where a run that is neither a benchmark nor a likelihood run is looked at instead.
SHOWN_ELSEWHERE = {
    RunKind.REFINE: "the Refine page",
    RunKind.LADDER: "`perfics ladder --run {id}` or the Quantization page",
    RunKind.CODING: "`perfics classify review-stats|agreement|metrics` or the Agreement page",
    RunKind.FINETUNE: "`perfics learn adapters` or the Fine-tune page",
    RunKind.CURVE: "`perfics learn curve --show {id}` or the Learn page",
    RunKind.LOADTEST: "`perfics loadtest --run {id}` or the Costs page",
}


def measured_run_kind(run_id: str, wanted: str) -> RunKind:
    """The kind of a benchmark or likelihood run. A run of another kind would read as one
    that measured nothing, so it is refused, saying where it is shown; `wanted` names what
    the caller does with the run ("PeRFICS ranks", "results are shown for")."""
    if not run_id.strip():
        raise InvalidRequest("The run id is empty; `perfics run --list` lists the runs.")
    kind = context.store().runs.get(run_id).kind
    if kind in (RunKind.BENCHMARK, RunKind.LIKELIHOOD):
        return kind
    where = SHOWN_ELSEWHERE.get(kind, "its own page").format(id=run_id)
    raise InvalidRequest(
        f"Run {run_id} is a {kind} run: {wanted} benchmark and likelihood runs only. "
        f"See it with {where}."
    )


def results(run_id: str) -> RunResults:
    """A run's results with its judge's reliability verdict."""
    store = context.store()
    return run_results(store, run_id)


@dataclass(frozen=True)
class RunDetails:
    items: pd.DataFrame  # one row per answered question, with scores and outcomes
    questions: dict[str, Question]


def run_details(run_id: str) -> RunDetails:
    store = context.store()
    suite = store.runs.get(run_id).config.suite
    return RunDetails(item_table(store, run_id), {q.id: q for q in store.suites.questions(suite)})


@dataclass(frozen=True)
class ArenaState:
    candidates: pd.DataFrame
    votes: pd.DataFrame
    next_pair: ArenaPair | None
    ratings: pd.DataFrame
    agreement: arena.Agreement


def arena_state(run_id: str, mode: str) -> ArenaState:
    """What the arena shows for a run and mode: the next unvoted pair, ratings, agreement."""
    store = context.store()
    candidates = arena.candidate_pairs(store, run_id, mode)
    votes = arena.votes(store, run_id, mode)
    pair = arena.next_pair(candidates, set(votes.item_no), seed=f"{run_id}:{mode}")
    return ArenaState(
        candidates,
        votes,
        pair,
        arena.ratings(votes),
        arena.judge_agreement(candidates, votes),
    )


def cast_vote(run_id: str, pair: ArenaPair, vote: str) -> None:
    """A vote on the pair that was shown. The run may have been deleted since, in another tab
    or by `perfics run --delete`: then nothing is stored, rather than a vote on no run."""
    store = context.store()
    if not store.runs.exists(run_id):
        raise InvalidRequest(f"Run {run_id[:8]} was deleted meanwhile; the vote was not stored.")
    arena.record_vote(store, run_id, pair, vote)
