"""Blind human A/B votes on stored answers, Bradley-Terry ratings from them, and how often
the human agrees with the LLM judge on the same pairs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import InvalidRequest
from core.evaluation.metrics import FIRST, SECOND, TIE
from core.evaluation.outcomes import item_table, model_pairs
from core.evaluation.stats import bradley_terry
from core.store import Store
from core.types import ArenaPair, ItemKind

VOTES = ("left", "right", "tie", "both_bad")
# Which units each arena mode draws its pairs from.
MODES = {"baseline_vs_refined": ItemKind.ANSWER, "model_vs_model": ItemKind.PAIR}
CANDIDATE_COLUMNS = [
    "item_no",
    "question_id",
    "question",
    "first_label",
    "first_text",
    "second_label",
    "second_text",
    "judge_outcome",
]


def candidate_pairs(store: Store, run_id: str, mode: str) -> pd.DataFrame:
    """Pairs from a run: the unit they come from, the question, first/second label and text,
    and the judge's combined outcome (first, second, tie or None)."""
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}")
    config = store.runs.get(run_id).config
    questions = {q.id: q.text for q in store.suites.questions(config.suite)}
    items = item_table(store, run_id)
    if items.empty:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    if MODES[mode] == ItemKind.ANSWER:
        done = items[(items.status == "done") & (items.baseline != items.final)]
        return pd.DataFrame(
            {
                "item_no": done.item_no,
                "question_id": done.question_id,
                "question": done.question_id.map(questions),
                "first_label": done.model_name + " · baseline",
                "first_text": done.baseline,
                "second_label": done.model_name + " · refined",
                "second_text": done.final,
                "judge_outcome": done.refined_outcome,
            }
        ).reset_index(drop=True)[CANDIDATE_COLUMNS]
    finals = items[items.status == "done"].set_index(["model_name", "question_id"]).final
    rows = [
        {
            "item_no": p.item_no,
            "question_id": p.question_id,
            "question": questions.get(p.question_id),
            "first_label": p.a,
            "first_text": finals[(p.a, p.question_id)],
            "second_label": p.b,
            "second_text": finals[(p.b, p.question_id)],
            "judge_outcome": p.outcome,
        }
        for p in model_pairs(store, run_id).itertuples()
        if (p.a, p.question_id) in finals and (p.b, p.question_id) in finals
    ]
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def next_pair(candidates: pd.DataFrame, voted: set[int], seed: str) -> ArenaPair | None:
    """A seeded draw among pairs not yet voted on, with the sides in random order."""
    open_pairs = candidates[~candidates.item_no.isin(voted)]
    if open_pairs.empty:
        return None
    rng = random.Random(f"{seed}:{len(voted)}")
    row = open_pairs.iloc[rng.randrange(len(open_pairs))]
    sides = [(row.first_label, row.first_text), (row.second_label, row.second_text)]
    rng.shuffle(sides)
    (ll, lt), (rl, rt) = sides
    return ArenaPair(int(row.item_no), row.question, ll, lt, rl, rt)


def record_vote(store: Store, run_id: str, pair: ArenaPair, vote: str) -> None:
    if vote not in VOTES:
        raise InvalidRequest(f"vote must be one of {', '.join(VOTES)}")
    store.votes.record(run_id, pair.item_no, pair.left_label, pair.right_label, vote)


def votes(store: Store, run_id: str, mode: str | None = None) -> pd.DataFrame:
    """Votes of a run, oldest first; only one mode's pairs when mode is given, since ratings
    of baseline-vs-refined and model-vs-model answers are not on one scale."""
    return store.votes.of_run(run_id, MODES[mode] if mode else None)


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
        ],
        columns=["answer", "rating", "ci_low", "ci_high", "votes"],
    )


def human_outcome(vote: Any, first_label: str) -> str | None:
    """A vote in terms of the pair's first/second answer; "both bad" has no winner."""
    if vote.vote == "tie":
        return TIE
    if vote.vote == "both_bad":
        return None
    winner = vote.left_label if vote.vote == "left" else vote.right_label
    return FIRST if winner == first_label else SECOND


@dataclass(frozen=True)
class Agreement:
    """Human votes against the LLM judge on the same pairs."""

    pairs: int
    agreement: float | None = None
    cohen_kappa: float | None = None


def human_and_judge(candidates: pd.DataFrame, vote_rows: pd.DataFrame) -> tuple[list, list]:
    """Paired outcomes (human, judge) over pairs that have both a vote with a winner or tie
    and the judge's combined verdict; the latest vote per pair counts."""
    if candidates.empty or vote_rows.empty:
        return [], []
    latest = vote_rows.groupby("item_no").tail(1).set_index("item_no")
    human, judge = [], []
    for c in candidates.itertuples():
        if c.item_no in latest.index and c.judge_outcome is not None:
            h = human_outcome(latest.loc[c.item_no], c.first_label)
            if h is not None and not pd.isna(c.judge_outcome):
                human.append(h)
                judge.append(c.judge_outcome)
    return human, judge


def agreement(human: list, judge: list) -> Agreement:
    """Raw agreement and Cohen's kappa between paired human and judge outcomes."""
    if not human:
        return Agreement(0)
    from sklearn.metrics import cohen_kappa_score

    share = sum(h == j for h, j in zip(human, judge, strict=True)) / len(human)
    kappa = None
    if len(set(human) | set(judge)) > 1:
        kappa = float(cohen_kappa_score(human, judge, labels=[FIRST, SECOND, TIE]))
    return Agreement(len(human), share, kappa)


def judge_agreement(candidates: pd.DataFrame, vote_rows: pd.DataFrame) -> Agreement:
    """Human votes against the judge's combined verdict on the same pairs."""
    return agreement(*human_and_judge(candidates, vote_rows))


def run_human_and_judge(store: Store, run_id: str) -> tuple[list, list]:
    """Paired human and judge outcomes over both arena modes of a run."""
    human, judge = [], []
    for mode in MODES:
        h, j = human_and_judge(candidate_pairs(store, run_id, mode), votes(store, run_id, mode))
        human += h
        judge += j
    return human, judge
