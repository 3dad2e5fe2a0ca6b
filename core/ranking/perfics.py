"""PeRFICS: Performance, Refinement and Inference Cost Score, and the Pareto frontier.

The exact formula, every symbol, the defaults and the properties are in docs/perfics.md:

    PeRFICS = (w_p * P + w_r * G + w_c * K) / (w_p + w_r + w_c)
    P = refined performance in [0, 1]
    G = clip(refined - baseline, -1, 1), the absolute refinement gain on the same scale
    K = 1 / (1 + C / C0), cost turned into [0, 1]: 1 when free, 1/2 at the reference cost C0
"""

from __future__ import annotations

import pandas as pd

from core.errors import InvalidRequest
from core.types import Weights

COST_COLUMN = {"memory": "memory_gb", "latency": "seconds_per_answer", "money": "money_per_1000"}
# C0: the cost at which the cost term is worth one half.
REFERENCE_COST = {"memory": 1.0, "latency": 10.0, "money": 1.0}


# The paper's three case studies, as editable starting points.
PRESETS = {
    "laptop-assistant": Weights(1.0, 0.5, 1.0, "memory"),  # personal email on a laptop
    "interactive-dialogue": Weights(1.0, 0.25, 1.5, "latency"),  # game NPC dialogue
    "quality-coding": Weights(2.0, 0.5, 0.25, "money"),  # enterprise coding assistant
}


def normalise_score(score: float | None, low: float = 1.0, high: float = 10.0) -> float | None:
    """A 1-10 judge rating on [0, 1]."""
    if score is None or score != score:
        return None
    return min(1.0, max(0.0, (score - low) / (high - low)))


def cost_term(cost: float, basis: str) -> float:
    if cost < 0:
        raise InvalidRequest("cost cannot be negative")
    return 1.0 / (1.0 + cost / REFERENCE_COST[basis])


def perfics(performance: float, gain: float, cost: float, weights: Weights) -> float:
    g = min(1.0, max(-1.0, gain))
    total = weights.performance + weights.refinement + weights.cost
    return (
        weights.performance * performance
        + weights.refinement * g
        + weights.cost * cost_term(cost, weights.basis)
    ) / total


def pareto_front(quality: list[float], cost: list[float]) -> list[bool]:
    """True where no other point is at least as good on both axes and better on one."""
    front = []
    for i, (q, c) in enumerate(zip(quality, cost, strict=True)):
        dominated = any(
            q2 >= q and c2 <= c and (q2 > q or c2 < c)
            for j, (q2, c2) in enumerate(zip(quality, cost, strict=True))
            if j != i
        )
        front.append(not dominated)
    return front


def rank(models: pd.DataFrame, weights: Weights) -> pd.DataFrame:
    """models: one row per model with performance, baseline_performance and the three cost
    columns. Returns it with gain, cost, PeRFICS, rank and on_pareto, best first."""
    needed = ["performance", "baseline_performance", COST_COLUMN[weights.basis]]
    if models.empty or not set(needed) <= set(models.columns):
        return pd.DataFrame(
            columns=[
                *models.columns,
                "gain",
                "gain_relative",
                "cost",
                "perfics",
                "rank",
                "on_pareto",
            ]
        )
    df = models.dropna(subset=["performance", COST_COLUMN[weights.basis]]).copy()
    if df.empty:
        return df.assign(gain=[], gain_relative=[], cost=[], perfics=[], rank=[], on_pareto=[])
    df["gain"] = df.performance - df.baseline_performance
    df["gain_relative"] = df.gain / df.baseline_performance.where(df.baseline_performance > 0)
    df["cost"] = df[COST_COLUMN[weights.basis]]
    df["perfics"] = [
        perfics(p, g, c, weights)
        for p, g, c in zip(df.performance, df.gain.fillna(0), df.cost, strict=True)
    ]
    df["on_pareto"] = pareto_front(list(df.performance), list(df.cost))
    df = df.sort_values(["perfics", "performance"], ascending=False)
    df["rank"] = range(1, len(df) + 1)
    return df.reset_index(drop=True)
