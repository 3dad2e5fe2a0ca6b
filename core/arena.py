"""Blind human A/B votes on stored answers, Bradley-Terry ratings from them, and how often
the human agrees with the LLM judge on the same pairs."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import InvalidRequest
from core.migrations import now
from core.results import item_table, model_pairs
from core.stats import bradley_terry

VOTES = ("left", "right", "tie", "both_bad")
MODES = ("baseline_vs_refined", "model_vs_model")


@dataclass(frozen=True)
class ArenaPair:
    pair_key: str
    question: str
    left_label: str
    left_text: str
    right_label: str
    right_text: str


def candidate_pairs(store, run_id: str, mode: str) -> pd.DataFrame:
    """Pairs from a run: (pair_key, question_id, question, first/second label and text,
    judge_outcome in first/second/tie or None)."""
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}")
    config = store.get_run(run_id)["config"]
    questions = {q.id: q.text for q in store.suite_questions(config["suite"])}
    items = item_table(store, run_id)
    if items.empty:
        return pd.DataFrame()
    done = items[(items.status == "done") & (items.baseline != items.final)]
    if mode == "baseline_vs_refined":
        return pd.DataFrame(
            {
                "pair_key": done.item_key,
                "question_id": done.question_id,
                "question": done.question_id.map(questions),
                "first_label": done.model_name + " · baseline",
                "first_text": done.baseline,
                "second_label": done.model_name + " · refined",
                "second_text": done.final,
                "judge_outcome": done.refined_outcome,
            }
        ).reset_index(drop=True)
    finals = items[items.status == "done"].set_index(["model_name", "question_id"]).final
    pairs = model_pairs(store, run_id)
    rows = []
    for p in pairs.itertuples():
        if (p.a, p.question_id) in finals and (p.b, p.question_id) in finals:
            rows.append(
                {
                    "pair_key": f"pair:{p.a}|{p.b}:{p.question_id}",
                    "question_id": p.question_id,
                    "question": questions.get(p.question_id),
                    "first_label": p.a,
                    "first_text": finals[(p.a, p.question_id)],
                    "second_label": p.b,
                    "second_text": finals[(p.b, p.question_id)],
                    "judge_outcome": p.outcome,
                }
            )
    return pd.DataFrame(rows)


def next_pair(candidates: pd.DataFrame, voted: set[str], seed: str) -> ArenaPair | None:
    """A seeded draw among pairs not yet voted on, with the sides in random order."""
    open_pairs = candidates[~candidates.pair_key.isin(voted)] if len(candidates) else candidates
    if open_pairs.empty:
        return None
    rng = random.Random(f"{seed}:{len(voted)}")
    row = open_pairs.iloc[rng.randrange(len(open_pairs))]
    sides = [(row.first_label, row.first_text), (row.second_label, row.second_text)]
    rng.shuffle(sides)
    (ll, lt), (rl, rt) = sides
    return ArenaPair(row.pair_key, row.question, ll, lt, rl, rt)


def record_vote(store, run_id: str, pair: ArenaPair, vote: str) -> None:
    if vote not in VOTES:
        raise InvalidRequest(f"vote must be one of {', '.join(VOTES)}")
    with store.connect() as con:
        con.execute(
            "INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                uuid.uuid4().hex,
                run_id,
                pair.pair_key,
                pair.left_label,
                pair.right_label,
                vote,
                now(),
            ],
        )


MODE_PREFIX = {"baseline_vs_refined": "answer:", "model_vs_model": "pair:"}


def votes(store, run_id: str, mode: str | None = None) -> pd.DataFrame:
    """Votes of a run, oldest first; only one mode's pairs when mode is given, since ratings
    of baseline-vs-refined and model-vs-model answers are not on one scale."""
    prefix = MODE_PREFIX[mode] if mode else ""
    return store.query_df(
        "SELECT pair_key, left_label, right_label, vote, created_at FROM votes "
        "WHERE run_id = ? AND starts_with(pair_key, ?) ORDER BY created_at",
        [run_id, prefix],
    )


def ratings(vote_rows: pd.DataFrame) -> pd.DataFrame:
    """Bradley-Terry ratings with bootstrap 95% CIs; "both bad" counts as a tie."""
    outcomes = [
        (r.left_label, r.right_label, r.vote if r.vote in ("left", "right") else "tie")
        for r in vote_rows.itertuples()
    ]
    fitted = bradley_terry(outcomes)
    return pd.DataFrame(
        [
            {"answer": name, "rating": e.value, "ci_low": e.low, "ci_high": e.high, "votes": e.n}
            for name, e in sorted(fitted.items(), key=lambda kv: -kv[1].value)
        ]
    )


def human_outcome(vote: Any, first_label: str) -> str | None:
    """A vote in terms of the pair's first/second answer; "both bad" has no winner."""
    if vote.vote == "tie":
        return "tie"
    if vote.vote == "both_bad":
        return None
    winner = vote.left_label if vote.vote == "left" else vote.right_label
    return "first" if winner == first_label else "second"


def judge_agreement(candidates: pd.DataFrame, vote_rows: pd.DataFrame) -> dict[str, Any]:
    """Raw agreement and Cohen's kappa between human votes and the judge's combined verdict,
    over pairs that have both (the latest vote per pair counts)."""
    if candidates.empty or vote_rows.empty:
        return {"pairs": 0, "agreement": None, "cohen_kappa": None}
    latest = vote_rows.groupby("pair_key").tail(1).set_index("pair_key")
    human, judge = [], []
    for c in candidates.itertuples():
        if c.pair_key in latest.index and c.judge_outcome is not None:
            h = human_outcome(latest.loc[c.pair_key], c.first_label)
            if h is not None and not pd.isna(c.judge_outcome):
                human.append(h)
                judge.append(c.judge_outcome)
    if not human:
        return {"pairs": 0, "agreement": None, "cohen_kappa": None}
    from sklearn.metrics import cohen_kappa_score

    agreement = sum(h == j for h, j in zip(human, judge, strict=True)) / len(human)
    kappa = None
    if len(set(human) | set(judge)) > 1:
        kappa = float(cohen_kappa_score(human, judge, labels=["first", "second", "tie"]))
    return {"pairs": len(human), "agreement": agreement, "cohen_kappa": kappa}
