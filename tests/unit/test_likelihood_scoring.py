"""Likelihood runs, pinned by hand: acc, acc_norm (ties to the earlier choice), a reference
answer's bits per byte and 2^-bpb score, the Wilson interval, PeRFICS quality from
likelihood, and stop/resume through the run machinery. A scripted scorer hands out exact
log-probabilities; the fake backend checks the whole path against a recomputation."""

import math
from pathlib import Path

import pytest

from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest, PromptTooLong
from core.evaluation.benchmark import create_run
from core.evaluation.lifecycle import RunStopped
from core.evaluation.likelihood import (
    CONTEXT_TEMPLATE,
    create_likelihood_run,
    plan_likelihood,
    run_likelihood,
)
from core.evaluation.likelihood_results import likelihood_results
from core.evaluation.stats import wilson_ci
from core.evaluation.suites import load_file
from core.ranking.likelihood_quality import likelihood_quality
from core.store import Store
from core.types import LikelihoodSpec, Question, RunSpec, TextScore, TokenScore
from tests.support import DATA, FAKE_TWO, fake_pool


class ScriptedScorer:
    """A backend whose score_text returns the token log-probabilities a test gives for each
    continuation; it records what it was asked."""

    def __init__(self, logprobs: dict[str, list[float]], info=FAKE_INFO):
        self.info, self.logprobs, self.asked = info, logprobs, []

    def score_text(self, context: str, continuation: str, top_k: int = 5) -> TextScore:
        self.asked.append((context, continuation))
        tokens = tuple(
            TokenScore(i, f"t{i}", lp, 1, 0.0, ())
            for i, lp in enumerate(self.logprobs[continuation])
        )
        return TextScore(self.info.name, context, continuation, 4, tokens)


NINETEEN = "nineteen characters"  # 19 characters; with the leading space, 20 bytes
HAND = [
    # acc picks "a" (sum -2.0 is highest): wrong. acc_norm per character: a -2.0/1 = -2.0,
    # bbbb -6.0/4 = -1.5, cc -3.5/2 = -1.75, so it picks bbbb: right.
    Question("q1", "mc", "Which?", (), "bbbb", "choice", None, ("a", "bbbb", "cc")),
    # A tie (-1.0 both, 3 characters both): the earlier choice wins both rules, so wrong.
    Question("q2", "mc", "Tie?", (), "no!", "choice", None, ("yes", "no!")),
    # red -0.5 beats blue -4.0 by sum and per character (-0.167 vs -1.0): right twice.
    Question("q3", "mc", "Colour?", (), "red", "choice", None, ("red", "blue")),
    # References: total -10.0 over 20 bytes, and -3.0 over " 42" = 3 bytes.
    Question("q4", "ref", "Say it.", (), NINETEEN, "answer"),
    Question("q5", "ref", "Six times seven?", (), "42", "numeric", 0.01),
    # Not scored: an order-of-magnitude estimate, and no reference at all.
    Question("q6", "ref", "How many?", (), "1000", "magnitude", 1.0),
    Question("q7", "open", "Why?"),
]
LOGPROBS = {
    " a": [-2.0],
    " bbbb": [-3.0, -3.0],
    " cc": [-1.5, -2.0],
    " yes": [-1.0],
    " no!": [-0.25, -0.75],
    " red": [-0.5],
    " blue": [-4.0],
    f" {NINETEEN}": [-4.0, -6.0],
    " 42": [-3.0],
}


def _hand_run(tmp_path: Path, stop_after: int | None = None):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)
    scorer = ScriptedScorer(LOGPROBS)
    run_id = create_likelihood_run(store, LikelihoodSpec("hand", (FAKE_INFO,)), "test")
    run_likelihood(store, run_id, lambda name: scorer)
    return store, run_id, scorer


def test_acc_acc_norm_and_reference_likelihood_by_hand(tmp_path):
    store, run_id, scorer = _hand_run(tmp_path)
    assert scorer.asked[0] == ("Question: Which?\nAnswer:", " a")  # lm-eval's framing
    units = store.likelihood.units(run_id).set_index("question_id")
    assert list(units.predicted[["q1", "q2", "q3"]]) == [0, 0, 0]
    assert list(units.predicted_norm[["q1", "q2", "q3"]]) == [1, 0, 0]
    assert list(units.correct[["q1", "q2", "q3"]]) == [False, False, True]
    assert list(units.correct_norm[["q1", "q2", "q3"]]) == [True, False, True]
    assert units.bits_per_byte["q4"] == pytest.approx(10.0 / math.log(2) / 20)
    assert units.reference_score["q4"] == pytest.approx(math.exp(-10.0 / 20))  # 0.6065
    assert units.reference_score["q5"] == pytest.approx(math.exp(-3.0 / 3))  # 0.3679
    assert set(units.index) == {"q1", "q2", "q3", "q4", "q5"}  # q6, q7 left out

    row = likelihood_results(store, run_id).summary.set_index("category").loc["all"]
    assert (row.mc_items, row.mc_accuracy, row.mc_accuracy_norm) == (3, 1 / 3, 2 / 3)
    assert row.mc_accuracy_n == 3 and row.chance == pytest.approx((1 / 3 + 1 / 2 + 1 / 2) / 3)
    assert row.reference_items == 2
    assert row.reference_score == pytest.approx((math.exp(-0.5) + math.exp(-1.0)) / 2)
    # Pooled: (10 + 3) nats over (20 + 3) bytes.
    assert row.reference_bits_per_byte == pytest.approx(13 / math.log(2) / 23)


def test_the_plan_counts_units_and_what_is_left_out(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)
    config, units, left_out = plan_likelihood(store, LikelihoodSpec("hand", (FAKE_INFO, FAKE_TWO)))
    assert config.question_ids == ("q1", "q2", "q3", "q4", "q5") and left_out == 2
    assert [(u.key.model, u.key.question_id) for u in units][:2] == [
        ("fake-echo", "q1"),
        ("fake-echo", "q2"),
    ]
    assert [str(u.key.kind) for u in units[:5]] == ["mc_likelihood"] * 3 + [
        "reference_likelihood"
    ] * 2
    store.suites.save("open", "test", [HAND[-1]])
    with pytest.raises(InvalidRequest, match="can be scored by likelihood"):
        plan_likelihood(store, LikelihoodSpec("open", (FAKE_INFO,)))


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.959964: centre (0.8 + 0.192073) / 1.384146 = 0.716738, half-width
    # 1.959964 / 1.384146 * sqrt(0.016 + 0.009604) = 0.226576.
    e = wilson_ci(8, 10)
    assert (e.value, e.n) == (0.8, 10)
    assert e.low == pytest.approx(0.490162, abs=1e-5) and e.high == pytest.approx(0.943318, 1e-5)
    # At 0 of 10 the interval is not empty: its top is z² / (n + z²) = 3.841459 / 13.841459.
    assert wilson_ci(0, 10).high == pytest.approx(3.841459 / 13.841459, abs=1e-6)
    assert wilson_ci(0, 0).value is None


def test_perfics_quality_from_likelihood_is_item_weighted_and_labelled(tmp_path):
    store, run_id, _ = _hand_run(tmp_path)
    table = likelihood_quality(store.likelihood.quality_parts(run_id), ["model"])
    row = table.iloc[0]
    # acc_norm right on 2 of 3, plus the two reference scores, over 5 units.
    expected = (2 + math.exp(-0.5) + math.exp(-1.0)) / 5
    assert row.performance == pytest.approx(expected) and row.quality_items == 5
    assert math.isnan(row.baseline_performance)  # likelihood measures no refinement
    assert row.performance_source.startswith("likelihood: MC accuracy (acc_norm) 0.67 [")
    assert ", n=3 + reference likelihood (2^-bpb) 0.49" in row.performance_source
    assert row.performance_source.endswith(", n=2")


def test_a_stopped_likelihood_run_resumes_without_redoing_a_unit(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)
    run_id = create_likelihood_run(store, LikelihoodSpec("hand", (FAKE_INFO,)), "test")
    scorer = ScriptedScorer(LOGPROBS)

    def stop_after_two(done, total, eta):
        if done == 2:
            store.runs.request_stop(run_id)  # as Stop or `perfics run --stop` does
            raise RunStopped

    with pytest.raises(RunStopped):
        run_likelihood(store, run_id, lambda name: scorer, stop_after_two)
    assert store.runs.get(run_id).status == "stopped"
    finished = "SELECT item_no, finished_at FROM run_items WHERE run_id = ? AND status <> 'pending'"
    first = store.db.query_df(finished, [run_id])
    assert len(first) == 2 and len(scorer.asked) == 3 + 2  # q1's three choices, q2's two
    store.runs.requeue(run_id)  # what Resume does first
    run_likelihood(store, run_id, lambda name: scorer)
    assert store.runs.get(run_id).status == "completed"
    assert len(scorer.asked) == 3 + 2 + 2 + 1 + 1  # q3's choices and q4, q5: nothing redone
    after = store.db.query_df(finished, [run_id])
    kept = after.merge(first, on="item_no", suffixes=("", "_before"))
    assert len(after) == 5 and (kept.finished_at == kept.finished_at_before).all()
    assert store.db.rows("SELECT count(*) FROM likelihood_scores WHERE run_id = ?", [run_id]) == [
        (3 + 2 + 2 + 1 + 1,)
    ]


def test_fake_backend_results_equal_a_recomputation_from_score_text(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    questions, _ = load_file(DATA / "mc_simple.jsonl")
    store.suites.save("mc", "test", questions)
    run_id = create_likelihood_run(store, LikelihoodSpec("mc", (FAKE_INFO, FAKE_TWO)), "test")
    run_likelihood(store, run_id, fake_pool())
    summary = likelihood_results(store, run_id).summary.set_index(["model", "category"])
    backend = FakeBackend()
    right = right_norm = 0
    for q in questions:
        context = CONTEXT_TEMPLATE.format(question=q.text)
        sums = [backend.score_text(context, " " + c).total_logprob for c in q.choices]
        per_char = [s / len(c) for s, c in zip(sums, q.choices, strict=True)]
        gold = q.choices.index(q.reference)
        right += sums.index(max(sums)) == gold
        right_norm += per_char.index(max(per_char)) == gold
    row = summary.loc[("fake-echo", "all")]
    assert row.mc_items == len(questions) == 18
    assert (row.mc_accuracy, row.mc_accuracy_norm) == (right / 18, right_norm / 18)


def test_a_backend_without_probabilities_fails_the_run_with_a_clear_error(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)
    run_id = create_likelihood_run(store, LikelihoodSpec("hand", (FAKE_INFO,)), "test")
    with pytest.raises(Exception, match="exposes no token probabilities"):
        run_likelihood(store, run_id, lambda name: FakeBackend(probabilities=False))
    run = store.runs.get(run_id)
    assert run.status == "failed" and "no token probabilities" in run.error


def test_a_generative_benchmark_refuses_a_multiple_choice_suite(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)
    with pytest.raises(InvalidRequest, match="--measure likelihood"):
        create_run(store, RunSpec(suite="hand", models=(FAKE_INFO,)), "fake")


def test_a_reference_too_long_for_the_context_fails_its_unit_only(tmp_path):
    store = Store(tmp_path / "l.duckdb")
    store.suites.save("hand", "test", HAND)

    class TooLongFor42(ScriptedScorer):
        def score_text(self, context, continuation, top_k=5):
            if continuation == " 42":
                raise PromptTooLong(600, 512)
            return super().score_text(context, continuation, top_k)

    scorer = TooLongFor42(LOGPROBS)
    run_id = create_likelihood_run(store, LikelihoodSpec("hand", (FAKE_INFO,)), "test")
    assert run_likelihood(store, run_id, lambda name: scorer) == "completed"
    units = store.likelihood.units(run_id).set_index("question_id")
    assert units.status["q5"] == "failed" and "600" in units.error["q5"]
    assert set(units.status.drop("q5")) == {"done"}
    row = likelihood_results(store, run_id).summary.set_index("category").loc["all"]
    assert (row.failed_items, row.reference_items) == (1, 1)
