"""The paper's headline numbers, each defined once. Results, Trade-offs, the CLI and the charts
all use these; tests pin each on a hand-worked example.

- Improvement % = (refined - baseline) / baseline x 100: how much refinement raised the mean
  judge score, relative to the baseline ("Democratizing LLMs", EMNLP 2023 Findings).
- Refined-win share of one pair: win 1, tie 1/2, loss 0; its mean is the refined win rate.
- Position inconsistency: the share of pairs, judged in both presentation orders, whose two
  verdicts name different winners.
"""

from __future__ import annotations

from typing import overload

import pandas as pd

# A pair's outcome names which of its two answers won: the first or second it was given.
FIRST, SECOND, TIE = "first", "second", "tie"
_REFINED_SHARE = {SECOND: 1.0, TIE: 0.5, FIRST: 0.0}
# A baseline-vs-refined outcome in words: the refined answer is the pair's second.
_REFINEMENT_OUTCOME_TEXT = {SECOND: "refined wins", TIE: "tie", FIRST: "baseline wins"}


@overload
def improvement_pct(baseline: pd.Series, refined: pd.Series) -> pd.Series: ...
@overload
def improvement_pct(baseline: float | None, refined: float | None) -> float | None: ...
def improvement_pct(baseline, refined):
    """(refined - baseline) / baseline x 100. Undefined (None, or NaN in a Series) where the
    baseline is missing or zero."""
    if isinstance(baseline, pd.Series) or isinstance(refined, pd.Series):
        base = pd.Series(baseline, dtype=float)
        base = base.where(base != 0)
        return (pd.Series(refined, dtype=float) - base) / base * 100
    if baseline is None or refined is None or baseline != baseline or refined != refined:
        return None
    if baseline == 0:
        return None
    return (refined - baseline) / baseline * 100


def refined_share(outcome: str | None) -> float | None:
    """How much of one baseline-vs-refined pair the refined answer won. The refined answer
    is the pair's second; None when the pair was not judged."""
    return _REFINED_SHARE.get(outcome) if outcome is not None else None


def describe_refinement_outcome(outcome: str | None) -> str:
    return _REFINEMENT_OUTCOME_TEXT.get(outcome, "not judged") if outcome else "not judged"
