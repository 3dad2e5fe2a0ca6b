"""Arena pairs, blind sides, votes, ratings and agreement with the judge (fake backend)."""

import pandas as pd
import pytest

from core.errors import InvalidRequest
from core.evaluation.arena import (
    Agreement,
    candidate_pairs,
    human_outcome,
    judge_agreement,
    next_pair,
    ratings,
    record_vote,
    votes,
)
from core.store import Store
from core.types import ArenaPair
from tests.support import finished_run


@pytest.fixture
def judged_run(tmp_path):
    store = Store(tmp_path / "arena.duckdb")
    return store, finished_run(store, limit=4)


def test_candidate_pairs_for_both_modes(judged_run):
    store, run_id = judged_run
    refined = candidate_pairs(store, run_id, "baseline_vs_refined")
    assert len(refined) > 0
    assert (refined.first_text != refined.second_text).all()
    assert refined.first_label.str.endswith("baseline").all()
    assert refined.question.notna().all()
    models = candidate_pairs(store, run_id, "model_vs_model")
    assert len(models) == 4 and set(models.first_label) == {"fake-echo"}
    with pytest.raises(InvalidRequest):
        candidate_pairs(store, run_id, "free_for_all")


def test_next_pair_is_seeded_skips_voted_pairs_and_shuffles_sides(judged_run):
    store, run_id = judged_run
    pairs = candidate_pairs(store, run_id, "model_vs_model")
    first = next_pair(pairs, set(), "seed")
    assert first == next_pair(pairs, set(), "seed")
    remaining = set(pairs.item_no) - {first.item_no}
    assert next_pair(pairs, {first.item_no}, "seed").item_no in remaining
    assert next_pair(pairs, set(pairs.item_no), "seed") is None
    left_sides = {next_pair(pairs, set(), f"s{i}").left_label for i in range(20)}
    assert left_sides == {"fake-echo", "fake-two"}


def test_votes_are_stored_and_rated(judged_run):
    store, run_id = judged_run
    pair_no = int(candidate_pairs(store, run_id, "model_vs_model").item_no[0])
    answer_no = int(candidate_pairs(store, run_id, "baseline_vs_refined").item_no[0])
    pair = ArenaPair(pair_no, "Q?", "model-a", "a text", "model-b", "b text")
    other_mode = ArenaPair(answer_no, "Q?", "m · baseline", "a", "m · refined", "b")
    record_vote(store, run_id, other_mode, "left")
    for vote in ["left", "left", "left", "right", "tie", "both_bad"]:
        record_vote(store, run_id, pair, vote)
    with pytest.raises(InvalidRequest):
        record_vote(store, run_id, pair, "maybe")
    rows = votes(store, run_id, "model_vs_model")
    assert list(rows.vote) == ["left", "left", "left", "right", "tie", "both_bad"]
    assert len(votes(store, run_id)) == 7
    assert len(votes(store, run_id, "baseline_vs_refined")) == 1
    table = ratings(rows).set_index("answer")
    assert table.loc["model-a", "rating"] > table.loc["model-b", "rating"]
    assert table.loc["model-a", "votes"] == 6
    assert table.loc["model-a", "ci_low"] <= table.loc["model-a", "rating"]


def test_human_outcome_maps_sides_back_to_the_pair():
    vote = pd.Series({"vote": "left", "left_label": "refined", "right_label": "baseline"})
    assert human_outcome(vote, first_label="baseline") == "second"
    vote["vote"] = "right"
    assert human_outcome(vote, first_label="baseline") == "first"
    vote["vote"] = "tie"
    assert human_outcome(vote, first_label="baseline") == "tie"
    vote["vote"] = "both_bad"
    assert human_outcome(vote, first_label="baseline") is None


def test_judge_agreement_and_kappa():
    candidates = pd.DataFrame(
        {
            "item_no": [1, 2, 3, 4],
            "first_label": ["x", "x", "x", "x"],
            "judge_outcome": ["first", "second", "tie", "first"],
        }
    )
    agree = pd.DataFrame(
        {
            "item_no": [1, 2, 3, 4],
            "left_label": ["x", "y", "x", "y"],
            "right_label": ["y", "x", "y", "x"],
            "vote": ["left", "left", "tie", "right"],
        }
    )
    result = judge_agreement(candidates, agree)
    assert result == Agreement(pairs=4, agreement=1.0, cohen_kappa=1.0)
    disagree = agree.assign(vote=["right", "right", "tie", "left"])
    result = judge_agreement(candidates, disagree)
    assert result.pairs == 4 and result.agreement == 0.25 and result.cohen_kappa < 0.2
    assert judge_agreement(candidates, agree.iloc[0:0]).pairs == 0
