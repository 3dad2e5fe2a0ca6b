"""Judge reliability, probability-weighted verdicts and references-first quality, each pinned
with a hand-worked case."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from core.engine.choices import score_choices
from core.engine.fake import FAKE_INFO, FakeBackend
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.judge import (
    base_model_note,
    default_judge,
    expected_rating,
    grade,
    judge_choice_reason,
)
from core.evaluation.reliability import assess, concordance, entropy_bits, judge_reliability
from core.ranking.quality import QualityPolicy, UnreliableJudge, combine, refuse_unless_trusted
from core.ranking.tradeoffs import measure, quality
from core.store import Store
from core.types import JudgeEvidence, JudgeVerdict, RunSpec, SamplerSettings
from tests.support import fake_model, scripted


def _log_probs(probabilities: dict[int, float], vocab: int = 5) -> np.ndarray:
    p = np.full(vocab, 1e-12)
    for token, value in probabilities.items():
        p[token] = value
    return np.log(p)


def test_choice_probabilities_hand_worked_trie():
    """Tokens: 1 = "1", 2 = "0", 3 = "2", 4 = end of generation. Choices "1" = [1],
    "10" = [1, 2], "2" = [3]. At the root only 1 and 3 are allowed: 0.5 and 0.25 renormalise
    to 2/3 and 1/3. After "1", "0" (0.3) against the end (0.1): 3/4 and 1/4. So P(10) =
    2/3 * 3/4 = 1/2, P(1) = 2/3 * 1/4 = 1/6, P(2) = 1/3, and E[rating] = 5 + 1/6 + 2/3."""
    tables = {
        (9,): _log_probs({1: 0.5, 3: 0.25, 0: 0.25}),
        (9, 1): _log_probs({2: 0.3, 4: 0.1, 0: 0.6}),
    }
    seen = []

    def next_log_probs(tokens):
        seen.append(tuple(tokens))
        return tables[tuple(tokens)]

    scored = score_choices([9], {"1": [1], "10": [1, 2], "2": [3]}, next_log_probs, np.array([4]))
    assert scored.probabilities == pytest.approx({"1": 1 / 6, "10": 1 / 2, "2": 1 / 3})
    assert scored.greedy == "10"
    assert expected_rating(scored.probabilities) == pytest.approx(1 / 6 + 10 / 2 + 2 / 3)
    assert seen == [(9,), (9, 1)]  # two evaluations, none for the single-path leaves


def test_the_greedy_choice_follows_the_sampler_not_the_likeliest_answer():
    """Root: "1" 0.55 against "2" 0.45. After "1": "0" 0.6 against the end 0.4. So P(10) =
    0.33, P(1) = 0.22, P(2) = 0.45: "2" is the likeliest answer, yet a greedy sampler takes
    "1" first and then "0", writing 10."""
    tables = {(9,): _log_probs({1: 0.55, 3: 0.45}), (9, 1): _log_probs({2: 0.6, 4: 0.4})}
    scored = score_choices(
        [9], {"1": [1], "10": [1, 2], "2": [3]}, lambda t: tables[tuple(t)], np.array([4])
    )
    assert scored.probabilities == pytest.approx({"1": 0.22, "10": 0.33, "2": 0.45})
    assert scored.greedy == "10"


def test_choice_probabilities_skip_the_shared_prefix():
    """Verdicts share "Verdict:" and differ in one token: one evaluation, after the prefix."""
    calls = []

    def next_log_probs(tokens):
        calls.append(tuple(tokens))
        return _log_probs({3: 0.2, 4: 0.2, 5: 0.1}, vocab=6)

    scored = score_choices(
        [0], {"A": [1, 2, 3], "B": [1, 2, 4], "tie": [1, 2, 5]}, next_log_probs, np.array([0])
    )
    assert scored.probabilities == pytest.approx({"A": 0.4, "B": 0.4, "tie": 0.2})
    assert scored.greedy == "A"  # a tie between A and B goes to the first, as argmax does
    assert calls == [(0, 1, 2)]


def test_entropy_and_concordance_hand_worked():
    assert entropy_bits([2, 2]) == pytest.approx(1.0)
    assert entropy_bits([4]) == 0.0 and entropy_bits([]) is None
    # correct (8, 6) against incorrect (6, 2): 8>6, 8>2, 6=6 (half), 6>2 -> 3.5 of 4.
    assert concordance((8, 6), (6, 2)) == pytest.approx(0.875)
    assert concordance((5,), ()) is None


def _evidence(**fields) -> JudgeEvidence:
    base = dict(judge="j", base_model=False, judgments=40, parsed=40)
    return JudgeEvidence(**{**base, **fields})


def test_a_judge_that_rates_everything_ten_and_always_picks_a_is_unusable():
    """The issue's case: 17 of 18 ratings 10, every pair inconsistent."""
    e = _evidence(rating_counts=((9.0, 1), (10.0, 17)), pairs=18, consistent_pairs=0)
    r = assess(e)
    assert r.verdict == JudgeVerdict.UNUSABLE
    assert r.top_share == pytest.approx(17 / 18) and r.top_rating == 10
    assert r.position_inconsistency == 1.0
    assert any("94% of 18 answers 10" in reason for reason in r.reasons)
    assert r.entropy_bits == pytest.approx(
        -(1 / 18) * math.log2(1 / 18) - (17 / 18) * math.log2(17 / 18)
    )


def test_a_spread_consistent_judge_that_agrees_with_references_is_usable():
    e = _evidence(
        rating_counts=((2.0, 3), (5.0, 3), (7.0, 3), (9.0, 3)),  # top share 25 %
        pairs=10,
        consistent_pairs=8,  # 20 % inconsistent
        ratings_correct=(9.0, 7.0, 7.0),
        ratings_incorrect=(2.0, 5.0),  # concordance 1.0 over 6 comparisons
    )
    r = assess(e)
    assert (r.verdict, r.reasons) == (JudgeVerdict.USABLE, ())
    assert r.reference_concordance == 1.0 and r.reference_comparisons == 6


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ({"pairs": 10, "consistent_pairs": 6}, JudgeVerdict.DOUBTFUL),  # 40 % > 35 %
        ({"pairs": 10, "consistent_pairs": 5}, JudgeVerdict.DOUBTFUL),  # 50 % is not > 50 %
        ({"pairs": 10, "consistent_pairs": 4}, JudgeVerdict.UNUSABLE),  # 60 %
        ({"pairs": 4, "consistent_pairs": 0}, JudgeVerdict.DOUBTFUL),  # too few pairs to count
        ({"parsed": 38, "pairs": 10, "consistent_pairs": 10}, JudgeVerdict.DOUBTFUL),  # 95 %
        ({"parsed": 35, "pairs": 10, "consistent_pairs": 10}, JudgeVerdict.UNUSABLE),  # 87.5 %
        ({"base_model": True, "pairs": 10, "consistent_pairs": 10}, JudgeVerdict.DOUBTFUL),
        ({"human_pairs": 12, "human_kappa": 0.1}, JudgeVerdict.UNUSABLE),
        ({"human_pairs": 12, "human_kappa": 0.3}, JudgeVerdict.DOUBTFUL),
        ({"human_pairs": 12, "human_kappa": 0.6}, JudgeVerdict.USABLE),
        (
            {"ratings_correct": (5.0, 5.0, 5.0), "ratings_incorrect": (5.0, 5.0)},
            JudgeVerdict.UNUSABLE,  # every comparison a tie: 0.5
        ),
    ],
)
def test_the_rule_thresholds(fields, verdict):
    assert assess(_evidence(**fields)).verdict == verdict


def test_a_judge_with_no_evidence_is_never_usable():
    r = assess(_evidence(judgments=2, parsed=2, rating_counts=((5.0, 2),)))
    assert r.verdict == JudgeVerdict.DOUBTFUL and "too few judgments to tell" in r.reasons


def test_default_judge_prefers_an_instruction_tuned_model():
    big_base = fake_model("big-base", "1", file_size=500, has_chat_template=False)
    small_chat = fake_model("small-chat", "2", file_size=100, has_chat_template=True)
    assert default_judge([big_base, small_chat]) == small_chat
    reason = judge_choice_reason(small_chat, [big_base, small_chat])
    assert "instruction-tuned" in reason and "big-base" in reason
    assert default_judge([big_base]) == big_base
    assert "base model" in judge_choice_reason(big_base, [big_base])
    assert base_model_note(big_base) and base_model_note(small_chat) is None


def test_a_reference_answer_is_shown_to_the_judge_and_probabilities_are_stored():
    judge = FakeBackend(responder=lambda prompt: "Rating: 7")
    judged = grade(judge, "What is 6 x 7?", "42", "baseline", reference="6 x 7 = 42")
    assert "[Reference answer, assumed correct]\n6 x 7 = 42" in judge.prompts[-1]
    # 70 % on the sampled 7, 30 % over the other nine ratings (which sum to 48).
    assert judged.expected_score == pytest.approx(0.7 * 7 + 0.3 * 48 / 9)
    plain = grade(FakeBackend(responder=lambda p: "Rating: 7", probabilities=False), "q", "a", "x")
    assert plain.score == 7 and plain.expected_score is None


def _parts(**columns) -> pd.DataFrame:
    base = dict(
        model=["m"],
        judge=["j"],
        items=[10],
        reference_items=[4],
        baseline_accuracy=[0.25],
        final_accuracy=[0.5],
        judged_items=[6],
        judge_baseline=[0.5],
        judge_refined=[0.75],
    )
    return pd.DataFrame({**base, **columns})


def _policy(verdict: JudgeVerdict, accept: bool = False) -> QualityPolicy:
    r = assess(_evidence(pairs=10, consistent_pairs=10))
    return QualityPolicy({"j": dataclasses.replace(r, verdict=verdict)}, accept)


def test_references_first_then_a_trusted_judge_hand_worked():
    """4 reference items at 0.5 and 6 judged at 0.75: (4 * 0.5 + 6 * 0.75) / 10 = 0.65;
    baseline (4 * 0.25 + 6 * 0.5) / 10 = 0.4."""
    row = combine(_parts(), ["model"], _policy(JudgeVerdict.USABLE)).iloc[0]
    assert row.performance == pytest.approx(0.65)
    assert row.baseline_performance == pytest.approx(0.4)
    assert row.performance_source == "reference (n=4) + judge (n=6)"
    assert (row["items"], row.quality_items) == (10, 10)
    assert row.improvement_pct == pytest.approx((0.65 - 0.4) / 0.4 * 100)


def test_an_unusable_judge_is_left_out_and_references_carry_quality():
    policy = _policy(JudgeVerdict.UNUSABLE)
    table = combine(_parts(), ["model"], policy)
    row = table.iloc[0]
    assert (row.performance, row.performance_source, row.excluded_items) == (
        0.5,
        "reference (n=4)",
        6,
    )
    assert (row["items"], row.quality_items) == (10, 4)  # the chart's n is the 4 it rests on
    notes = refuse_unless_trusted(table, policy)
    assert "left out" in notes[0] and "j is unusable" in notes[0]


def test_ranking_refuses_an_unusable_judge_unless_accepted():
    parts = _parts(reference_items=[0], baseline_accuracy=[None], final_accuracy=[None])
    policy = _policy(JudgeVerdict.UNUSABLE)
    with pytest.raises(UnreliableJudge, match="--accept-unreliable-judge"):
        refuse_unless_trusted(combine(parts, ["model"], policy), policy)
    accepted = _policy(JudgeVerdict.UNUSABLE, accept=True)
    table = combine(parts, ["model"], accepted)
    assert table.iloc[0].performance == pytest.approx(0.75)
    assert "you accepted" in refuse_unless_trusted(table, accepted)[0]


def _always_ten_and_a(prompt: str) -> str:
    return "Verdict: A" if "[Answer A]" in prompt else "Rating: 10"


def test_a_stored_run_with_a_useless_judge_is_measured_unusable_and_not_ranked(tmp_path):
    """End to end on a real DuckDB file: the issue's judge (always 10, always A)."""
    store = Store(tmp_path / "s.duckdb")
    judge = fake_model("judge", "7", has_chat_template=True)
    backends = {
        FAKE_INFO.name: FakeBackend(info=FAKE_INFO, responder=scripted(verdicts=["yes"] * 99)),
        "judge": FakeBackend(info=judge, responder=_always_ten_and_a),
    }
    spec = RunSpec(
        "builtin",
        (FAKE_INFO,),
        1,
        judge,
        limit=6,
        categories=("generic", "knowledge", "writing"),  # no references in these
        settings=SamplerSettings(max_tokens=32),
    )
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, backends.__getitem__)
    reliability = judge_reliability(store, run_id)["judge"]
    assert reliability.verdict == JudgeVerdict.UNUSABLE
    assert (reliability.ratings, reliability.top_share) == (12, 1.0)
    assert (reliability.pairs, reliability.position_inconsistency) == (6, 1.0)
    measured = measure(store, run_id)
    with pytest.raises(UnreliableJudge, match="fake-echo has no other quality source"):
        quality(measured)
    assert quality(measured, accept_unreliable=True).per_model.iloc[0].judged_items == 6


def test_cli_rank_refuses_an_unusable_judge_and_accepts_it_when_asked(isolated_env, fake_mode):
    """`perfics rank` on the issue's judge: a clear refusal (exit 1, no traceback), then a
    ranking when the user accepts the judge, with the verdict beside the quality."""
    from core.app import context
    from tests.support import run_cli

    store = context.store()
    judge = fake_model("judge", "7", has_chat_template=True)
    backends = {
        FAKE_INFO.name: FakeBackend(info=FAKE_INFO, responder=scripted(verdicts=["yes"] * 99)),
        "judge": FakeBackend(info=judge, responder=_always_ten_and_a),
    }
    spec = RunSpec("builtin", (FAKE_INFO,), 1, judge, limit=6, categories=("generic",))
    run_benchmark(store, create_run(store, spec, "fake"), backends.__getitem__)
    refused = run_cli("rank")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "will not rank on an unreliable judge" in refused.stderr
    accepted = run_cli("rank", "--accept-unreliable-judge", "--json")
    assert accepted.returncode == 0, accepted.stderr
    out = json.loads(accepted.stdout)
    assert out["judges"]["judge"]["verdict"] == "unusable"
    assert out["models"][0]["performance_source"] == "judge (n=6)"
    assert "you accepted" in out["notes"][0]
