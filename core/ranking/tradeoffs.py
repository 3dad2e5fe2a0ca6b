"""One table per model (and per model and round) joining measured quality and measured cost,
ready for PeRFICS ranking and the trade-off charts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.evaluation.metrics import improvement_pct
from core.ranking.perfics import normalise_score
from core.store import Store
from core.types import AnswerCost, HardwareProfile


def _quality(row) -> tuple[float | None, float | None, str]:
    """(refined, baseline) performance on [0, 1]: judge ratings if any, else reference checks."""
    if row.scored and row.scored > 0:
        return (normalise_score(row.refined_score), normalise_score(row.baseline_score), "judge")
    if row.reference_items and row.reference_items > 0:
        return float(row.final_accuracy), float(row.baseline_accuracy), "reference"
    return None, None, "none"


def _memory_gb(engine_row) -> float | None:
    """The model's own measured footprint; the file size where none was measured."""
    if not pd.isna(engine_row.model_memory_mb) and engine_row.model_memory_mb > 0:
        return engine_row.model_memory_mb / 1024
    if not pd.isna(engine_row.file_size):
        return engine_row.file_size / 2**30
    return None


@dataclass(frozen=True)
class Measurements:
    """Everything ranking needs from the store, fetched once and reused for re-ranking."""

    performance: pd.DataFrame  # per model
    rounds: pd.DataFrame  # cost per model at round 0 and at its last round
    engine: pd.DataFrame  # speed and memory per model (indexed by model)
    per_category: pd.DataFrame  # scores and improvement % per model and category
    by_rounds: pd.DataFrame  # scores and improvement % per model and rounds setting, all runs


def with_improvement(scores: pd.DataFrame) -> pd.DataFrame:
    """A copy with improvement_pct from its baseline_score and refined_score columns."""
    return scores.assign(
        improvement_pct=improvement_pct(scores.baseline_score, scores.refined_score)
    )


def measure(store: Store, run_id: str | None = None) -> Measurements:
    queries = store.aggregates
    return Measurements(
        queries.performance(run_id),
        queries.cost_by_round(run_id),
        queries.engine_costs(run_id).set_index("model"),
        with_improvement(queries.performance(run_id, by_category=True)),
        with_improvement(queries.scores_by_rounds()),
    )


def model_table(measured: Measurements, hw: HardwareProfile) -> pd.DataFrame:
    """One row per model with refined and baseline quality on [0, 1] and every cost."""
    perf, rounds, engine = measured.performance, measured.rounds, measured.engine
    rows = []
    for p in perf.itertuples():
        refined, baseline, source = _quality(p)
        per_model = rounds[rounds.model == p.model]
        if per_model.empty or p.model not in engine.index:
            continue
        final, first = per_model.iloc[-1], per_model.iloc[0]
        e = engine.loc[p.model]
        cost = AnswerCost(
            final.seconds_per_answer,
            final.prompt_tokens_per_answer,
            final.completion_tokens_per_answer,
            int(final.answers),
        )
        rows.append(
            {
                "model": p.model,
                "performance": refined,
                "baseline_performance": baseline,
                "performance_source": source,
                "items": int(p.items),
                "memory_gb": _memory_gb(e),
                "seconds_per_answer": final.seconds_per_answer,
                "seconds_per_answer_baseline": first.seconds_per_answer,
                "tokens_per_answer": final.completion_tokens_per_answer,
                "tokens_per_answer_baseline": first.completion_tokens_per_answer,
                "prompt_tokens_per_answer": final.prompt_tokens_per_answer,
                "money_per_1000": cost.money_per_1000(hw),
                "energy_kwh_per_1000": cost.energy_kwh_per_1000(hw),
                "tokens_per_s": e.tokens_per_s,
                "ttft_s": e.ttft_s,
                "file_size_mb": None if pd.isna(e.file_size) else e.file_size / 1e6,
                "quantization": e.quantization,
                "generations": int(e.generations),
            }
        )
    return pd.DataFrame(rows)


def round_points(table: pd.DataFrame, measured: Measurements, hw: HardwareProfile) -> pd.DataFrame:
    """Quality and cost of each model at round 0 (baseline) and at its last refined round."""
    rounds = measured.rounds
    points = []
    for m in table.itertuples():
        per_model = rounds[rounds.model == m.model]
        for label, quality, r in (
            ("baseline", m.baseline_performance, per_model.iloc[0]),
            ("refined", m.performance, per_model.iloc[-1]),
        ):
            cost = AnswerCost(
                r.seconds_per_answer,
                r.prompt_tokens_per_answer,
                r.completion_tokens_per_answer,
                int(r.answers),
            )
            points.append(
                {
                    "model": m.model,
                    "stage": label,
                    "round": int(r["round"]),
                    "performance": quality,
                    "seconds_per_answer": r.seconds_per_answer,
                    "memory_gb": m.memory_gb,
                    "money_per_1000": cost.money_per_1000(hw),
                    "items": m.items,
                }
            )
    return pd.DataFrame(points)
