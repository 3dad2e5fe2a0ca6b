"""Use cases for reading a benchmark's results and voting in the arena."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.app import context
from core.evaluation import arena
from core.evaluation.results import RunResults, item_table, run_results
from core.types import ArenaPair, Question

__all__ = ["ArenaState", "RunResults", "arena_state", "cast_vote", "results", "run_details"]


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
    arena.record_vote(context.store(), run_id, pair, vote)
