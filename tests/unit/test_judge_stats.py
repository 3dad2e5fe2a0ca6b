"""Pairwise order-swap logic, judge failures, and the statistics behind the reports."""

import math

import pytest

from core.engine.fake import FakeBackend
from core.evaluation.judge import (
    combine_orders,
    compare,
    default_judge,
    grade,
    judge_pair,
    winner_in_order,
)
from core.evaluation.stats import ELO_BASE, bradley_terry, mean_ci
from core.types import Judgment, ModelInfo


def _pair(verdict: str, order: str) -> Judgment:
    return Judgment("pair", "x|y", "ok", verdict=verdict, order_ab=order)


@pytest.mark.parametrize(
    ("v_ab", "v_ba", "outcome", "consistent"),
    [
        ("A", "B", "first", True),  # first answer shown as A, then as B: it won both times
        ("B", "A", "second", True),
        ("A", "A", "tie", False),  # position A won both times: pure position bias
        ("B", "B", "tie", False),
        ("tie", "tie", "tie", True),
        ("A", "tie", "tie", False),
    ],
)
def test_a_verdict_counts_only_when_both_orders_agree(v_ab, v_ba, outcome, consistent):
    assert combine_orders(_pair(v_ab, "AB"), _pair(v_ba, "BA")) == (outcome, consistent)


def test_winner_mapping():
    assert winner_in_order("A", "AB") == "first" and winner_in_order("A", "BA") == "second"
    assert winner_in_order("B", "AB") == "second" and winner_in_order("tie", "BA") == "tie"


def test_a_failed_judge_call_is_never_a_tie():
    failed = Judgment("pair", "x|y", "failed", order_ab="BA", error="boom")
    assert combine_orders(_pair("A", "AB"), failed) == (None, None)


def test_judge_shows_both_orders_and_parses():
    judge = FakeBackend(responses=["Verdict: A", "Verdict: B"])
    ab, ba = judge_pair(judge, "Q?", "first answer", "second answer", "x|y")
    assert judge.prompts[0].index("first answer") < judge.prompts[0].index("second answer")
    assert judge.prompts[1].index("second answer") < judge.prompts[1].index("first answer")
    assert combine_orders(ab, ba) == ("first", True)


def test_unparseable_or_failing_judge_is_stored_as_failure():
    # A sampled judge (no token probabilities) whose reply is none of the choices.
    sampled = FakeBackend(responses=["Rating: great"], probabilities=False)
    junk = grade(sampled, "Q?", "answer", "baseline")
    assert (junk.status, junk.score) == ("failed", None) and "ValueError" in junk.error
    scored = grade(FakeBackend(responses=["Rating: great"]), "Q?", "answer", "baseline")
    assert (scored.status, scored.score) == ("failed", None)
    assert "none of the choices" in scored.error
    broken = grade(FakeBackend(fail_on_call=1), "Q?", "answer", "baseline")
    assert broken.status == "failed" and "GenerationFailed" in broken.error
    odd = compare(FakeBackend(responses=["Verdict: C"]), "Q?", "a", "b", "x|y", "AB")
    assert odd.status == "failed" and odd.verdict is None
    good = grade(FakeBackend(responses=["Rating: 10"]), "Q?", "answer", "refined")
    assert (good.status, good.score) == ("ok", 10.0)


def test_default_judge_is_the_largest_usable_model(tmp_path):
    def info(name, size, usable=True):
        return ModelInfo(name=name, path=tmp_path / name, file_size=size, usable=usable)

    models = [info("small", 10), info("big", 30), info("broken-huge", 99, usable=False)]
    assert default_judge(models).name == "big"
    assert default_judge([]) is None


def test_bradley_terry_recovers_known_odds():
    outcomes = [("a", "b", "left")] * 30 + [("a", "b", "right")] * 10
    outcomes += [("b", "c", "left")] * 20 + [("b", "c", "right")] * 20
    ratings = bradley_terry(outcomes)
    gap = ratings["a"].value - ratings["b"].value
    assert gap == pytest.approx(400 * math.log10(3), abs=5)  # 3:1 odds
    assert ratings["b"].value == pytest.approx(ratings["c"].value, abs=5)
    assert sum(r.value for r in ratings.values()) / 3 == pytest.approx(ELO_BASE)
    for r in ratings.values():
        assert r.low <= r.value <= r.high
    assert (ratings["a"].n, ratings["b"].n) == (40, 80)


def test_ties_pull_ratings_together_and_bootstrap_is_seeded():
    decisive = bradley_terry([("a", "b", "left")] * 10 + [("a", "b", "right")] * 2)
    with_ties = bradley_terry(
        [("a", "b", "left")] * 10 + [("a", "b", "right")] * 2 + [("a", "b", "tie")] * 20
    )
    assert with_ties["a"].value - with_ties["b"].value < decisive["a"].value - decisive["b"].value
    again = bradley_terry([("a", "b", "left")] * 10 + [("a", "b", "right")] * 2)
    assert again == decisive
    assert bradley_terry([("a", "a", "tie")]) == {}


def test_mean_ci():
    est = mean_ci([2, 4, 6, 8])
    assert est.value == 5 and est.n == 4 and est.low < 5 < est.high
    assert mean_ci([]).value is None and mean_ci([]).n == 0
    single = mean_ci([7])
    assert (single.value, single.low, single.high, single.n) == (7, None, None, 1)
    assert mean_ci([1, 2, 3, 4, 5, 6]) == mean_ci([1, 2, 3, 4, 5, 6])


def test_a_failed_second_order_does_not_become_a_win(tmp_path):
    from core.engine.fake import FAKE_INFO
    from core.evaluation.benchmark import create_run, run_benchmark
    from core.evaluation.results import item_table, run_results
    from core.store import Store
    from core.types import RunSpec
    from tests.support import fake_model

    pair_calls = {"n": 0}

    def judge(prompt: str) -> str:
        if "Verdict" in prompt:
            pair_calls["n"] += 1
            return "Verdict: A" if pair_calls["n"] % 2 else "no verdict here"
        return "Rating: 5"

    def answers(prompt: str) -> str:
        last = prompt.rsplit("User: ", 1)[1]
        return "yes" if "yes or no" in last else f"answer {len(prompt)}"

    store = Store(tmp_path / "j.duckdb")
    judge_info = fake_model("judge", "9")
    backends = {
        "fake-echo": FakeBackend(responder=answers),
        "judge": FakeBackend(info=judge_info, responder=judge),
    }
    run_id = create_run(store, RunSpec("builtin", (FAKE_INFO,), 1, judge_info, 2), "fake")
    run_benchmark(store, run_id, backends.__getitem__)
    items = item_table(store, run_id)
    assert items.refined_outcome.isna().all()  # every pair lost its second order
    report = run_results(store, run_id)
    summary = report.summary.iloc[-1]
    assert summary["baseline_wins"] == summary["refined_wins"] == summary["ties"] == 0
    judge = report.reliability
    assert judge.judgments * (1 - judge.parse_rate) == pytest.approx(2)  # 2 failed judgments
