"""One table per model (and per model and round) joining measured quality and measured cost,
ready for PeRFICS ranking and the trade-off charts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from core.errors import InvalidRequest
from core.evaluation.reliability import judge_reliability
from core.ranking.likelihood_quality import likelihood_quality
from core.ranking.quality import QUALITY_COLUMNS, QualityPolicy, combine, refuse_unless_trusted
from core.store import Store
from core.types import AnswerCost, HardwareProfile, JudgeReliability, RunKind

# Where quality comes from: the answers (reference checks first, then trusted judges), or
# likelihood runs (multiple-choice accuracy and reference-answer likelihood, no judge).
QUALITY_SOURCES = ("answers", "likelihood")
LIKELIHOOD_NOTE = (
    "Quality from likelihood runs (docs/likelihood.md): it measures the model, not its "
    "refinement, so the gain is not measured and PeRFICS counts it as 0."
)


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

    quality: pd.DataFrame  # quality parts per model and judge (see Aggregates.quality_parts)
    rounds: pd.DataFrame  # cost per model at round 0 and at its last round
    engine: pd.DataFrame  # speed and memory per model (indexed by model)
    quality_by_category: pd.DataFrame  # the same parts per category
    quality_by_rounds: pd.DataFrame  # the same parts per rounds setting, over all runs
    judges: dict[str, JudgeReliability]  # every judge's reliability over the same runs
    judges_all_runs: dict[str, JudgeReliability]  # over all runs, for quality_by_rounds
    # Likelihood quality parts per model (and per model and category); see LikelihoodTable.
    likelihood: pd.DataFrame = field(default_factory=pd.DataFrame)
    likelihood_by_category: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_kind: RunKind | None = None  # the kind of the one run asked for; None: all runs

    @property
    def default_source(self) -> str:
        return "likelihood" if self.run_kind == RunKind.LIKELIHOOD else "answers"


@dataclass(frozen=True)
class Quality:
    """Quality per model, per model and category, and per model and rounds setting, under one
    policy on judges, with notes on what was left out."""

    per_model: pd.DataFrame
    per_category: pd.DataFrame
    by_rounds: pd.DataFrame
    notes: list[str]


def measure(store: Store, run_id: str | None = None) -> Measurements:
    """`run_id` limits what that run measures: a benchmark run its answers' quality and cost,
    a likelihood run its likelihood quality. The other part comes from all runs (a likelihood
    run generates nothing, so it has no cost of its own)."""
    kind = store.runs.get(run_id).kind if run_id else None
    likelihood_run = run_id if kind == RunKind.LIKELIHOOD else None
    run_id = None if kind == RunKind.LIKELIHOOD else run_id
    queries = store.aggregates
    judges = judge_reliability(store, run_id)
    return Measurements(
        queries.quality_parts(run_id),
        queries.cost_by_round(run_id),
        queries.engine_costs(run_id).set_index("model"),
        queries.quality_parts(run_id, by="category"),
        queries.quality_parts(None, by="rounds_setting"),
        judges,
        judges if run_id is None else judge_reliability(store, None),
        store.likelihood.quality_parts(likelihood_run),
        store.likelihood.quality_parts(likelihood_run, by="category"),
        kind,
    )


def quality(
    measured: Measurements,
    accept_unreliable: bool = False,
    strict: bool = True,
    source: str | None = None,
) -> Quality:
    """From the answers: references first, then trusted judges; when strict, raises
    UnreliableJudge where a model could only be ranked on an unusable judge the user has not
    accepted. From likelihood: no judge at all. `source` None: likelihood when the one run
    asked for is a likelihood run, else the answers."""
    source = source or measured.default_source
    if source not in QUALITY_SOURCES:
        raise InvalidRequest(
            f"Unknown quality source {source!r}; choose one of {', '.join(QUALITY_SOURCES)}"
        )
    if source == "likelihood":
        rounds = ["model", "rounds_setting", "items", *QUALITY_COLUMNS, "improvement_pct"]
        return Quality(
            likelihood_quality(measured.likelihood, ["model"]),
            likelihood_quality(measured.likelihood_by_category, ["model", "category"]),
            pd.DataFrame(columns=rounds),  # likelihood has no rounds
            [LIKELIHOOD_NOTE],
        )
    policy = QualityPolicy(measured.judges, accept_unreliable)
    per_model = combine(measured.quality, ["model"], policy)
    notes = refuse_unless_trusted(per_model, policy, strict)
    return Quality(
        per_model,
        combine(measured.quality_by_category, ["model", "category"], policy),
        combine(
            measured.quality_by_rounds,
            ["model", "rounds_setting"],
            QualityPolicy(measured.judges_all_runs, accept_unreliable),
        ),
        notes,
    )


def model_table(measured: Measurements, hw: HardwareProfile, scored: Quality) -> pd.DataFrame:
    """One row per model with refined and baseline quality on [0, 1] and every cost."""
    rounds, engine = measured.rounds, measured.engine
    rows = []
    for p in scored.per_model.itertuples():
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
                "performance": p.performance,
                "baseline_performance": p.baseline_performance,
                "performance_source": p.performance_source,
                "judge_verdict": p.judge_verdict,
                "items": int(p.items),
                "quality_items": int(p.quality_items),
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
