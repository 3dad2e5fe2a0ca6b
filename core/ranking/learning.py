"""PeRFICS over a learning curve's comparison (core/types/curves.CompareRow): each method of
each model at one n is a candidate, ranked by the same formula as models are
(core/ranking/perfics.py, docs/perfics.md) with

- P: the chosen held-out metric's mean (accuracy, macro-F1, ...);
- G: P minus the same model's base (zero-shot) P, i.e. what learning from the n texts gained,
  in the place of the refinement gain (0 for the base itself, and when there is no base row);
- cost: seconds per text (latency) or money per 1,000 texts (money), inference only; the
  training cost is shown beside it, not folded in. Memory is not measured by a curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.errors import InvalidRequest
from core.ranking.perfics import rank
from core.types import Weights
from core.types.curves import CompareRow

BASE = "base"


def candidate(row: CompareRow) -> str:
    method = "zero-shot" if row.method == BASE else f"{row.method} n={row.n_train}"
    return f"{row.model} · {method}"


def rank_compare(
    rows: Sequence[CompareRow], weights: Weights, metric: str = "macro_f1"
) -> pd.DataFrame:
    """The comparison's rows ranked by PeRFICS, best first, with gain, cost, perfics, rank
    and on_pareto (perfics.rank); rows whose metric or cost is missing are left out."""
    if weights.basis == "memory":
        raise InvalidRequest(
            "A learning curve does not measure memory; rank its methods by latency or money."
        )
    if any(metric not in r.metrics for r in rows):
        raise InvalidRequest(f"The comparison has no metric {metric!r}.")
    base = {r.model: r.metrics[metric].value for r in rows if r.method == BASE}
    table = pd.DataFrame(
        [
            {
                "model": candidate(r),
                "base_model": r.model,
                "method": r.method,
                "n_train": r.n_train,
                "performance": r.metrics[metric].value,
                "performance_low": r.metrics[metric].low,
                "performance_high": r.metrics[metric].high,
                "baseline_performance": base.get(r.model),
                "seconds_per_answer": r.seconds_per_text,
                "money_per_1000": r.money_per_1000,
                "memory_gb": None,
                "train_seconds": r.train_seconds,
                "train_money": r.train_money,
            }
            for r in rows
        ]
    )
    if table.empty:
        return rank(table, weights)
    for column in ("performance", "baseline_performance", "seconds_per_answer", "money_per_1000"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return rank(table, weights)
