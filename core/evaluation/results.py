"""Benchmark results per model and category: baseline against refined scores with confidence
intervals, the refined-over-baseline win rate and the paper's improvement percentage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.evaluation.judge import combine_orders
from core.evaluation.metrics import (
    FIRST,
    SECOND,
    TIE,
    improvement_pct,
    position_inconsistency_rate,
    refined_share,
)
from core.evaluation.stats import mean_ci
from core.store import Store
from core.types import ItemKind, JudgeReliability, Judgment, ModelRef, RunProgress, RunRecord


@dataclass(frozen=True)
class JudgeStats:
    judgments: int
    parsed: int
    failed: int
    parse_rate: float | None
    pairs_judged_both_orders: int
    position_inconsistency_rate: float | None


@dataclass(frozen=True)
class RunResults:
    run: RunRecord
    progress: RunProgress
    judge: ModelRef | None
    judge_stats: JudgeStats | None
    summary: pd.DataFrame  # per model and category, plus an "all" row per model
    model_vs_model: pd.DataFrame  # question_id, category, a, b, outcome, consistent
    reliability: JudgeReliability | None = None  # the run's judge, by docs/judging.md

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "status": str(self.run.status),
            "progress": {"done": self.progress.done, "total": self.progress.total},
            "judge": None if self.judge is None else vars(self.judge),
            "judge_stats": None if self.judge_stats is None else vars(self.judge_stats),
            "judge_reliability": None if self.reliability is None else self.reliability.to_json(),
            "results": self.summary.to_dict(orient="records"),
            "model_vs_model": self.model_vs_model.to_dict(orient="records"),
        }


def _distinct(values: pd.Series, decimals: int = 2) -> int:
    """How many different scores a judge gave, telling apart what differs at 0.01."""
    return int(values.dropna().round(decimals).nunique())


def pair_outcome(row: Any, unchanged: bool = False) -> tuple[str | None, bool | None]:
    """(first | second | tie, consistent) for one unit's two judge orders."""
    if unchanged:
        return TIE, True  # identical answers are not sent to the judge
    # pandas gives NaN for a missing verdict; a failed order must not count as a win.
    if pd.isna(row.verdict_ab) or pd.isna(row.verdict_ba):
        return None, None
    ab = Judgment("pair", "", "ok", verdict=row.verdict_ab, order_ab="AB")
    ba = Judgment("pair", "", "ok", verdict=row.verdict_ba, order_ab="BA")
    return combine_orders(ab, ba)


def item_table(store: Store, run_id: str) -> pd.DataFrame:
    """One row per answered question, with judge scores and the refined-vs-baseline outcome.
    The baseline is the pair's first answer and the refined one its second."""
    items = store.items.scores(run_id, ItemKind.ANSWER)
    if items.empty:
        return items
    outcomes = [
        pair_outcome(r, unchanged=(r.status == "done" and r.baseline == r.final))
        for r in items.itertuples()
    ]
    items["refined_outcome"] = [o for o, _ in outcomes]
    items["consistent"] = [c for _, c in outcomes]
    items["refined_win"] = [refined_share(o) for o, _ in outcomes]
    return items


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    done = group[group.status == "done"]
    base = mean_ci(done.baseline_score.dropna().tolist())
    refined = mean_ci(done.refined_score.dropna().tolist())
    wins = mean_ci(done.refined_win.dropna().tolist())
    # Probability-weighted: P(refined wins) averaged over both orders, changed answers only.
    win_prob = mean_ci(done.p_second.dropna().tolist())
    checked = done[done.final_correct.notna()]
    ratings = pd.concat([done.baseline_score, done.refined_score])
    expected = pd.concat([done.baseline_expected, done.refined_expected])
    return {
        "items": len(group),
        "failed_items": int((group.status == "failed").sum()),
        "reference_items": len(checked),
        **mean_ci(checked.baseline_correct.astype(float).tolist()).as_dict("baseline_accuracy"),
        **mean_ci(checked.final_correct.astype(float).tolist()).as_dict("final_accuracy"),
        **base.as_dict("baseline_score"),
        **refined.as_dict("refined_score"),
        "improvement_pct": improvement_pct(base.value, refined.value),
        **mean_ci(done.baseline_expected.dropna().tolist()).as_dict("baseline_expected"),
        **mean_ci(done.refined_expected.dropna().tolist()).as_dict("refined_expected"),
        "distinct_ratings": _distinct(ratings),
        "distinct_expected": _distinct(expected),
        **wins.as_dict("refined_win_rate"),
        **win_prob.as_dict("refined_win_prob"),
        "refined_wins": int((done.refined_outcome == SECOND).sum()),
        "ties": int((done.refined_outcome == TIE).sum()),
        "baseline_wins": int((done.refined_outcome == FIRST).sum()),
        "mean_rounds": float(done.rounds_done.mean()) if len(done) else None,
        "seconds_per_item": float(done.seconds.mean()) if len(done) else None,
    }


def summarise(items: pd.DataFrame) -> pd.DataFrame:
    """Per model and category, plus an "all" row per model."""
    rows = []
    for model, per_model in items.groupby("model_name", sort=True):
        for category, group in per_model.groupby("category", sort=True):
            rows.append({"model": model, "category": category, **_summary(group)})
        rows.append({"model": model, "category": "all", **_summary(per_model)})
    return pd.DataFrame(rows)


def judge_stats(store: Store, run_id: str, items: pd.DataFrame, pairs: pd.DataFrame) -> JudgeStats:
    total, parsed, failed = store.items.judgment_counts(run_id)
    # Baseline-vs-refined pairs the judge actually saw (identical answers never go to it).
    judged_pairs = items[items.consistent.notna() & (items.baseline != items.final)]
    rate, n_pairs = position_inconsistency_rate(
        list(judged_pairs.consistent) + list(pairs.consistent)
    )
    return JudgeStats(
        judgments=total,
        parsed=parsed,
        failed=failed,
        parse_rate=(parsed / total) if total else None,
        pairs_judged_both_orders=n_pairs,
        position_inconsistency_rate=rate,
    )


def model_pairs(store: Store, run_id: str) -> pd.DataFrame:
    """Model-vs-model pairs judged in both orders: (item_no, a, b, outcome, consistent)."""
    pairs = store.items.scores(run_id, ItemKind.PAIR)
    columns = ["item_no", "question_id", "category", "a", "b", "outcome", "consistent"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    outcomes = [pair_outcome(r) for r in pairs.itertuples()]
    return pd.DataFrame(
        {
            "item_no": pairs.item_no,
            "question_id": pairs.question_id,
            "category": pairs.category,
            "a": pairs.model_name,
            "b": pairs.other_model_name,
            "outcome": [o for o, _ in outcomes],
            "consistent": [c for _, c in outcomes],
        }
    )[columns]


def run_results(
    store: Store, run_id: str, reliability: dict[str, JudgeReliability] | None = None
) -> RunResults:
    """A run's results; with `reliability` (by judge name, see reliability.py), the run's
    judge's verdict travels with them."""
    run = store.runs.get(run_id)
    judge = getattr(run.config, "judge", None)
    items = item_table(store, run_id)
    pairs = model_pairs(store, run_id)
    return RunResults(
        run=run,
        progress=RunProgress(run.done_units, run.total_units or 0),
        judge=judge,
        judge_stats=judge_stats(store, run_id, items, pairs) if not items.empty else None,
        summary=summarise(items) if not items.empty else pd.DataFrame(),
        model_vs_model=pairs,
        reliability=(reliability or {}).get(judge.name) if judge else None,
    )
