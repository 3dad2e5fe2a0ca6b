"""Quality from likelihood runs, for PeRFICS when the user picks it as the quality source.

A model's quality is the item-weighted mean of its multiple-choice units scored right by
acc_norm (1 or 0) and its reference answers' 2^-bpb scores (docs/likelihood.md). Likelihood
measures the model, not its refinement: the baseline is left unknown, so the gain G is not
measured (PeRFICS counts it as 0) rather than claimed to be zero.
"""

from __future__ import annotations

import math

import pandas as pd

from core.evaluation.stats import mean_ci, wilson_ci
from core.ranking.quality import QUALITY_COLUMNS

MC_LABEL = "likelihood: MC accuracy (acc_norm)"
REFERENCE_LABEL = "reference likelihood (2^-bpb)"


def _interval(value: float, low: float | None, high: float | None, n: int) -> str:
    spread = f" [{low:.2f}–{high:.2f}]" if low is not None and high is not None else ""
    return f"{value:.2f}{spread}, n={n}"


def source_label(mc_items: int, mc_correct: int, reference_scores: list[float]) -> str:
    """E.g. "likelihood: MC accuracy (acc_norm) 0.61 [0.39–0.80], n=18": each part with its
    95% interval (Wilson for accuracy, seeded bootstrap for scores) and n."""
    parts = []
    if mc_items:
        e = wilson_ci(mc_correct, mc_items)
        parts.append(f"{MC_LABEL} {_interval(e.value, e.low, e.high, e.n)}")
    if reference_scores:
        e = mean_ci(reference_scores)
        parts.append(f"{REFERENCE_LABEL} {_interval(e.value, e.low, e.high, e.n)}")
    return " + ".join(parts) if parts else "none"


def likelihood_quality(parts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key (model, or model and category) in the shape core/ranking/quality.py's
    combine() gives, from LikelihoodTable.quality_parts rows."""
    columns = [*keys, "items", *QUALITY_COLUMNS, "improvement_pct"]
    if parts.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in parts.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        mc_items, mc_correct = int(group.mc_items.sum()), int(group.mc_correct_norm.sum())
        scores = [float(s) for listed in group.reference_scores for s in listed]
        n = mc_items + len(scores)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "items": int(group["items"].sum()),
                "performance": (mc_correct + math.fsum(scores)) / n if n else None,
                "baseline_performance": math.nan,  # not measured: likelihood has no refinement
                "quality_items": n,
                "reference_items": 0,  # answers checked against a reference: none here
                "judged_items": 0,
                "excluded_items": 0,
                "performance_source": source_label(mc_items, mc_correct, scores),
                "judge": None,
                "judge_verdict": None,
                "improvement_pct": math.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)
