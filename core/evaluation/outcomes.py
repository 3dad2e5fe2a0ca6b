"""Each stored unit's outcome from its judgments: the refined-vs-baseline verdict of an
answer, and the model-vs-model verdicts of a pair, both from the two presentation orders."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.evaluation.judge import combine_orders
from core.evaluation.metrics import TIE, refined_share
from core.store import Store
from core.types import ItemKind, Judgment


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
