"""Benchmark results per model and category: baseline against refined scores with confidence
intervals, the refined-over-baseline win rate and the paper's improvement percentage."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.judge import Judgment, combine_orders
from core.stats import mean_ci
from core.store import Store

ITEM_SCORES_SQL = """
SELECT i.item_key, i.model_name, i.category, i.question_id, i.status, i.error,
       i.rounds_done, i.stop_reason, i.seconds, i.baseline, i.final,
       i.baseline_correct, i.final_correct,
       max(j.score) FILTER (WHERE j.kind = 'single' AND j.subject = 'baseline'
                            AND j.status = 'ok') AS baseline_score,
       max(j.score) FILTER (WHERE j.kind = 'single' AND j.subject = 'refined'
                            AND j.status = 'ok') AS refined_score,
       max(j.verdict) FILTER (WHERE j.kind = 'pair' AND j.order_ab = 'AB'
                              AND j.status = 'ok') AS verdict_ab,
       max(j.verdict) FILTER (WHERE j.kind = 'pair' AND j.order_ab = 'BA'
                              AND j.status = 'ok') AS verdict_ba,
       count(j.id) FILTER (WHERE j.kind = 'pair') AS pair_judgments
FROM run_items i
LEFT JOIN judgments j ON j.run_id = i.run_id AND j.item_key = i.item_key
WHERE i.run_id = ? AND i.kind = ?
GROUP BY ALL
ORDER BY i.model_name, i.question_id
"""

JUDGE_SQL = """
SELECT count(*) AS judgments,
       count(*) FILTER (WHERE status = 'ok') AS parsed,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM judgments WHERE run_id = ?
"""


def _pair_outcome(row: Any, unchanged: bool = False) -> tuple[str | None, bool | None]:
    """("first" | "second" | "tie", consistent) for one item's two judge orders."""
    if unchanged:
        return "tie", True  # identical answers are not sent to the judge
    # pandas gives NaN for a missing verdict; a failed order must not count as a win.
    if pd.isna(row.verdict_ab) or pd.isna(row.verdict_ba):
        return None, None
    ab = Judgment("pair", "", "ok", verdict=row.verdict_ab, order_ab="AB")
    ba = Judgment("pair", "", "ok", verdict=row.verdict_ba, order_ab="BA")
    return combine_orders(ab, ba)


def item_table(store: Store, run_id: str) -> pd.DataFrame:
    """One row per answered question, with judge scores and the refined-vs-baseline outcome."""
    items = store.query_df(ITEM_SCORES_SQL, [run_id, "answer"])
    if items.empty:
        return items
    outcomes = [
        _pair_outcome(r, unchanged=(r.status == "done" and r.baseline == r.final))
        for r in items.itertuples()
    ]
    items["refined_outcome"] = [o for o, _ in outcomes]
    items["consistent"] = [c for _, c in outcomes]
    # Refined's share of the pair: win 1, tie 0.5, loss 0.
    items["refined_win"] = items.refined_outcome.map({"second": 1.0, "tie": 0.5, "first": 0.0})
    return items


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    done = group[group.status == "done"]
    base = mean_ci(done.baseline_score.dropna().tolist())
    refined = mean_ci(done.refined_score.dropna().tolist())
    wins = mean_ci(done.refined_win.dropna().tolist())
    improvement = None
    if base.value and refined.value is not None:
        improvement = (refined.value - base.value) / base.value * 100
    checked = done[done.baseline_correct.notna()]
    return {
        "items": len(group),
        "failed_items": int((group.status == "failed").sum()),
        **base.as_dict("baseline_score"),
        **refined.as_dict("refined_score"),
        "improvement_pct": improvement,
        **wins.as_dict("refined_win_rate"),
        "refined_wins": int((done.refined_outcome == "second").sum()),
        "ties": int((done.refined_outcome == "tie").sum()),
        "baseline_wins": int((done.refined_outcome == "first").sum()),
        "reference_items": len(checked),
        "baseline_accuracy": float(checked.baseline_correct.mean()) if len(checked) else None,
        "final_accuracy": float(checked.final_correct.mean()) if len(checked) else None,
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


def judge_stats(
    store: Store, run_id: str, items: pd.DataFrame, pairs: pd.DataFrame
) -> dict[str, Any]:
    counts = store.query_df(JUDGE_SQL, [run_id]).iloc[0]
    judged_pairs = items[items.consistent.notna() & (items.baseline != items.final)]
    consistent = list(judged_pairs.consistent) + [c for c in pairs.consistent if c is not None]
    total = int(counts.judgments)
    return {
        "judgments": total,
        "parsed": int(counts.parsed),
        "failed": int(counts.failed),
        "parse_rate": (int(counts.parsed) / total) if total else None,
        "pairs_judged_both_orders": len(consistent),
        "position_inconsistency_rate": (
            sum(1 for c in consistent if not c) / len(consistent) if consistent else None
        ),
    }


def model_pairs(store: Store, run_id: str) -> pd.DataFrame:
    """Model-vs-model pairs judged in both orders: (a, b, outcome, consistent)."""
    pairs = store.query_df(ITEM_SCORES_SQL, [run_id, "pair"])
    if pairs.empty:
        return pd.DataFrame(columns=["question_id", "a", "b", "outcome", "consistent"])
    models = pairs.item_key.str.split(":").str[1].str.split("|")
    outcomes = [_pair_outcome(r) for r in pairs.itertuples()]
    return pd.DataFrame(
        {
            "question_id": pairs.question_id,
            "category": pairs.category,
            "a": models.str[0],
            "b": models.str[1],
            "outcome": [o for o, _ in outcomes],
            "consistent": [c for _, c in outcomes],
        }
    )


def run_results(store: Store, run_id: str) -> dict[str, Any]:
    from core.runner import progress

    run = store.get_run(run_id)
    done, total = progress(store, run_id)
    items = item_table(store, run_id)
    pairs = model_pairs(store, run_id)
    summary = summarise(items) if not items.empty else pd.DataFrame()
    return {
        "run_id": run_id,
        "status": run["status"],
        "progress": {"done": done, "total": total},
        "judge": run["config"].get("judge"),
        "judge_stats": judge_stats(store, run_id, items, pairs) if not items.empty else None,
        "results": summary.to_dict(orient="records"),
        "model_vs_model": pairs.to_dict(orient="records"),
    }
