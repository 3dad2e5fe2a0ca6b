"""Use cases for the Trade-offs and Costs pages and `perfics rank`."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from core.app import context
from core.app.results import measured_run_kind
from core.ranking.cost import BreakEven, break_even_curve, request_cost
from core.ranking.perfics import rank
from core.ranking.tradeoffs import (
    Measurements,
    Quality,
    measure,
    model_table,
    quality,
    round_points,
)
from core.types import ApiPrice, HardwareProfile, JudgeReliability, Weights


def measurements(run_id: str | None = None) -> Measurements:
    """Every SQL aggregate ranking needs, read once; re-ranking then needs no query."""
    if run_id is not None:
        measured_run_kind(run_id, "PeRFICS ranks")
    return measure(context.store(), run_id)


@dataclass(frozen=True)
class Ranking:
    table: pd.DataFrame  # one row per model: quality and every cost
    ranked: pd.DataFrame  # with PeRFICS, rank and Pareto membership, best first
    points: pd.DataFrame  # each model at baseline and at its last refined round
    quality: Quality  # per model, category and rounds setting, with notes on what was left out
    judges: dict[str, JudgeReliability]


def _uncosted(scored: Quality, table: pd.DataFrame) -> list[str]:
    """A note naming models with a quality figure but no measured answers, hence no cost."""
    rated = scored.per_model[scored.per_model.performance.notna()].model
    missing = sorted(set(rated) - set(table.get("model", [])))
    if not missing:
        return []
    return [
        f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} a quality figure but "
        "no measured answers, so no cost to rank on: run a benchmark with "
        f"{'it' if len(missing) == 1 else 'them'} (even --rounds 0) to measure the cost."
    ]


def rank_models(
    measured: Measurements,
    hw: HardwareProfile,
    weights: Weights,
    accept_unreliable: bool = False,
    source: str | None = None,
) -> Ranking:
    """PeRFICS over quality from `source` (core/ranking/tradeoffs.py QUALITY_SOURCES): the
    answers, references first and trusted judges, raising UnreliableJudge rather than rank on
    an unusable judge the user has not accepted; or likelihood runs."""
    scored = quality(measured, accept_unreliable, source=source)
    table = model_table(measured, hw, scored)
    scored = replace(scored, notes=[*scored.notes, *_uncosted(scored, table)])
    return Ranking(
        table, rank(table, weights), round_points(table, measured, hw), scored, measured.judges
    )


def break_even(
    model_row: pd.Series,
    hw: HardwareProfile,
    api: ApiPrice,
    refined: bool,
    prompt_tokens: float,
    output_tokens: float,
) -> BreakEven:
    """Local against API cost for one model's measured answers, scaled to the request size."""
    seconds = model_row.seconds_per_answer if refined else model_row.seconds_per_answer_baseline
    local = request_cost(
        seconds,
        model_row.tokens_per_answer_baseline,
        int(model_row["items"]),
        prompt_tokens,
        output_tokens,
    )
    return break_even_curve(hw, local, api)


def cost_table(hw: HardwareProfile, run_id: str | None = None) -> pd.DataFrame:
    """One row per measured model with quality and every cost, unranked (the Costs page)."""
    measured = measurements(run_id)
    return model_table(measured, hw, quality(measured, strict=False))
