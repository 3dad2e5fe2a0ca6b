"""The paper's headline numbers on hand-worked examples: improvement %, the refined win rate
and position inconsistency. Reversing any formula or mapping fails one of these."""

import math

import pandas as pd
import pytest

from core.engine.fake import FAKE_INFO, FakeBackend
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.metrics import (
    describe_refinement_outcome,
    improvement_pct,
    refined_share,
)
from core.evaluation.results import run_results, summarise
from core.store import Store
from core.types import RunSpec, SamplerSettings
from tests.support import fake_model, scripted


def test_improvement_pct_is_relative_to_the_baseline():
    # Baseline 4, refined 5: (5 - 4) / 4 = +25 %. The reverse, (4 - 5) / 5, would be -20 %.
    assert improvement_pct(4.0, 5.0) == pytest.approx(25.0)
    assert improvement_pct(5.0, 4.0) == pytest.approx(-20.0)
    assert improvement_pct(8.0, 8.0) == 0.0
    assert improvement_pct(0.0, 3.0) is None  # undefined, not infinite
    assert improvement_pct(None, 3.0) is None and improvement_pct(4.0, None) is None
    assert improvement_pct(float("nan"), 3.0) is None


def test_improvement_pct_on_columns_matches_the_scalar_form():
    got = improvement_pct(pd.Series([4.0, 0.0, 8.0, None]), pd.Series([5.0, 1.0, 6.0, 2.0]))
    assert got[0] == pytest.approx(25.0) and got[2] == pytest.approx(-25.0)
    assert math.isnan(got[1]) and math.isnan(got[3])


def test_refined_share_of_one_pair():
    # The refined answer is the pair's second: a win is worth 1, a tie 1/2, a loss 0.
    assert refined_share("second") == 1.0
    assert refined_share("tie") == 0.5
    assert refined_share("first") == 0.0
    assert refined_share(None) is None  # not judged: no share at all
    assert describe_refinement_outcome("second") == "refined wins"
    assert describe_refinement_outcome("first") == "baseline wins"
    assert describe_refinement_outcome(None) == "not judged"


def _items(baseline, refined, outcomes, expected=None, p_second=None, correct=None):
    n = len(baseline)
    nothing = [None] * n
    return pd.DataFrame(
        {
            "item_no": range(n),
            "model_name": ["m"] * n,
            "category": ["c"] * n,
            "status": ["done"] * n,
            "baseline_score": baseline,
            "refined_score": refined,
            "refined_outcome": outcomes,
            "refined_win": [refined_share(o) for o in outcomes],
            "baseline_correct": (correct or (nothing, nothing))[0],
            "final_correct": (correct or (nothing, nothing))[1],
            "baseline_expected": (expected or (nothing, nothing))[0],
            "refined_expected": (expected or (nothing, nothing))[1],
            "p_second": p_second or nothing,
            "rounds_done": [1] * n,
            "seconds": [2.0] * n,
        }
    )


def test_probability_weighted_scores_and_accuracy_hand_worked():
    items = _items(
        baseline=[5, 5, 5, 5],  # the sampled rating lumps all four together
        refined=[5, 5, 5, 5],
        outcomes=["tie", "tie", "tie", "tie"],
        expected=([4.25, 5.5, 5.0, 4.75], [6.0, 5.5, 5.25, 5.25]),  # means 4.875 and 5.5
        p_second=[0.75, 0.5, 0.25, 0.5],  # mean 0.5
        correct=([True, False, None, None], [True, True, None, None]),
    )
    row = summarise(items).set_index("category").loc["all"]
    assert (row.distinct_ratings, row.distinct_expected) == (1, 6)  # 4.25 4.75 5 5.25 5.5 6
    assert row.baseline_expected == pytest.approx(4.875)
    assert row.refined_expected == pytest.approx(5.5)
    assert row.refined_win_prob == pytest.approx(0.5) and row.refined_win_prob_n == 4
    assert row.reference_items == 2
    assert row.baseline_accuracy == pytest.approx(0.5) and row.final_accuracy == 1.0
    assert row.final_accuracy_n == 2


def test_summary_of_four_hand_worked_items():
    items = _items(
        baseline=[4, 6, 5, 5],  # mean 5
        refined=[6, 6, 7, 5],  # mean 6
        outcomes=["second", "second", "first", "tie"],
    )
    row = summarise(items).set_index("category").loc["all"]
    assert row.baseline_score == 5.0 and row.refined_score == 6.0
    assert row.improvement_pct == pytest.approx(20.0)  # (6 - 5) / 5
    assert row.refined_win_rate == pytest.approx(0.625)  # (1 + 1 + 0 + 0.5) / 4
    assert (row.refined_wins, row.ties, row.baseline_wins) == (2, 1, 1)
    assert row.refined_win_rate_n == 4 and row.baseline_score_n == 4


def _fair_judge(prompt: str) -> str:
    """Rates the refined answer 6 and the baseline 4; in a pair, names whichever position
    holds the refined answer, so both orders agree."""
    if "[Answer A]" in prompt:
        a_part = prompt.split("[Answer A]")[1].split("[Answer B]")[0]
        return "Verdict: A" if "better answer" in a_part else "Verdict: B"
    return "Rating: 6" if "better answer" in prompt else "Rating: 4"


def _biased_judge(prompt: str) -> str:
    """Always prefers whatever it is shown first."""
    return "Verdict: A" if "[Answer A]" in prompt else "Rating: 5"


def _run(tmp_path, judge_responder):
    store = Store(tmp_path / "m.duckdb")
    judge = fake_model("judge", "7")
    backends = {
        FAKE_INFO.name: FakeBackend(info=FAKE_INFO, responder=scripted(verdicts=["yes"] * 50)),
        "judge": FakeBackend(info=judge, responder=judge_responder),
    }
    spec = RunSpec("builtin", (FAKE_INFO,), 1, judge, 4, settings=SamplerSettings(max_tokens=64))
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, backends.__getitem__)
    return run_results(store, run_id)


def test_a_judge_that_prefers_refinement_gives_the_expected_headline_numbers(tmp_path):
    report = _run(tmp_path, _fair_judge)
    row = report.summary.set_index("category").loc["all"]
    assert (row.baseline_score, row.refined_score) == (4.0, 6.0)
    assert row.improvement_pct == pytest.approx(50.0)  # (6 - 4) / 4
    assert row.refined_win_rate == 1.0 and row.refined_wins == 4 and row.baseline_wins == 0
    assert report.reliability.position_inconsistency == 0.0
    assert report.reliability.pairs == 4


def test_a_position_biased_judge_is_caught_and_its_pairs_count_as_ties(tmp_path):
    report = _run(tmp_path, _biased_judge)
    row = report.summary.set_index("category").loc["all"]
    assert report.reliability.position_inconsistency == 1.0  # 4 of 4 pairs
    assert row.ties == 4 and row.refined_win_rate == 0.5
    assert row.improvement_pct == 0.0
