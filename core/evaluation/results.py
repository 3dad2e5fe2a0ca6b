"""Benchmark results per model and category: baseline against refined scores with confidence
intervals, the refined-over-baseline win rate and the paper's improvement percentage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.evaluation.metrics import FIRST, SECOND, TIE, improvement_pct
from core.evaluation.outcomes import item_table, model_pairs
from core.evaluation.reliability import judge_reliability
from core.evaluation.stats import mean_ci
from core.store import Store
from core.types import JudgeReliability, ModelRef, RunProgress, RunRecord


@dataclass(frozen=True)
class RunResults:
    run: RunRecord
    progress: RunProgress
    judge: ModelRef | None
    summary: pd.DataFrame  # per model and category, plus an "all" row per model
    model_vs_model: pd.DataFrame  # question_id, category, a, b, outcome, consistent
    reliability: JudgeReliability | None  # the run's judge over this run, by docs/judging.md

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "status": str(self.run.status),
            "progress": {"done": self.progress.done, "total": self.progress.total},
            "judge": None if self.judge is None else vars(self.judge),
            "judge_reliability": None if self.reliability is None else self.reliability.to_json(),
            "results": self.summary.to_dict(orient="records"),
            "model_vs_model": self.model_vs_model.to_dict(orient="records"),
        }


def _distinct(values: pd.Series, decimals: int = 2) -> int:
    """How many different scores a judge gave, telling apart what differs at 0.01."""
    return int(values.dropna().round(decimals).nunique())


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


def run_results(store: Store, run_id: str) -> RunResults:
    """A run's results, with its judge's reliability over this run (see reliability.py)."""
    run = store.runs.get(run_id)
    judge = getattr(run.config, "judge", None)
    items = item_table(store, run_id)
    pairs = model_pairs(store, run_id)
    return RunResults(
        run=run,
        progress=RunProgress(run.done_units, run.total_units or 0),
        judge=judge,
        summary=summarise(items) if not items.empty else pd.DataFrame(),
        model_vs_model=pairs,
        reliability=judge_reliability(store, run_id).get(judge.name) if judge else None,
    )
