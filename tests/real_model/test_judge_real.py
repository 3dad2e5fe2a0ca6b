"""SmolLM2 as an offline judge: every verdict parses because the grammar forces its form."""

import pytest

from core.evaluation.judge import combine_orders, grade, judge_pair

pytestmark = pytest.mark.real_model

CASES = [
    ("What is the capital of France?", "Paris is the capital of France.", "I like turtles."),
    ("What is 2 + 2?", "4", "2 + 2 equals 5."),
    ("Name a primary colour.", "Red.", "Red, blue and yellow are primary colours of paint."),
]


def test_smollm2_judge_verdicts_all_parse(smollm2):
    grades, pairs = [], []
    for question, good, bad in CASES:
        grades += [grade(smollm2, question, good, "good"), grade(smollm2, question, bad, "bad")]
        pairs.append(judge_pair(smollm2, question, good, bad, "good|bad"))
    assert all(g.status == "ok" and 1 <= g.score <= 10 for g in grades), grades
    for ab, ba in pairs:
        assert ab.status == ba.status == "ok"
        assert ab.verdict in ("A", "B", "tie") and ba.verdict in ("A", "B", "tie")
        outcome, consistent = combine_orders(ab, ba)
        assert outcome in ("first", "second", "tie") and consistent in (True, False)


def _greedy(probabilities: dict[str, float]) -> str:
    """The reply a greedy grammar-constrained sampler takes through the rating trie: at the
    first digit, "1" stands for both 1 and 10; after "1", 10 against 1."""
    first = {c: p for c, p in probabilities.items() if c != "10"}
    first["1"] += probabilities["10"]
    pick = max(first, key=first.get)
    if pick == "1":
        return "10" if probabilities["10"] > probabilities["1"] else "1"
    return pick


def _rating_messages(question: str, answer: str) -> list[dict[str, str]]:
    from core.evaluation.judge import SINGLE_TEMPLATE

    prompt = SINGLE_TEMPLATE.format(question=question, answer=answer, reference="")
    return [{"role": "user", "content": prompt}]


@pytest.mark.parametrize(
    "model_name",
    [
        "smollm2",
        # Known open defect (issue 9 note): on Gemma 3 270M (fallback prompt format) the greedy
        # path through the computed distribution picks 4 where the sampler wrote 10.
        pytest.param("gemma", marks=pytest.mark.xfail(strict=True, reason="open: see issue 9")),
    ],
)
def test_probability_weighted_ratings_match_the_sampled_ones(model_name, real_models):
    """On both default models: the distribution sums to 1, its greedy path is the rating the
    sampler chose at temperature 0, the expected score lies inside 1..10, and a fresh model
    (nothing in its KV cache) gives the same probabilities as one that just generated."""
    from core.engine.llama import LlamaBackend
    from core.engine.registry import resolve
    from core.evaluation.judge import RATINGS
    from tests.support import GEMMA, SMOLLM2

    name = {"smollm2": SMOLLM2, "gemma": GEMMA}[model_name]
    warm = LlamaBackend(resolve(name, real_models), n_ctx=2048, threads=2)
    for question, good, bad in CASES:
        for answer in (good, bad):
            judged = grade(warm, question, answer, "x")
            assert judged.status == "ok" and 1 <= judged.expected_score <= 10
            p = warm.choice_probabilities(_rating_messages(question, answer), "Rating: ", RATINGS)
            assert sum(p.values()) == pytest.approx(1.0, abs=1e-9)
            assert _greedy(p) == f"{judged.score:g}", (judged, p)
            assert sum(int(r) * q for r, q in p.items()) == pytest.approx(judged.expected_score)
    fresh = LlamaBackend(resolve(name, real_models), n_ctx=2048, threads=2)
    messages = _rating_messages(*CASES[0][:2])
    cold = fresh.choice_probabilities(messages, "Rating: ", RATINGS)
    hot = warm.choice_probabilities(messages, "Rating: ", RATINGS)
    assert max(abs(cold[r] - hot[r]) for r in RATINGS) < 1e-3
    warm.close()
    fresh.close()


def test_pair_probabilities_are_stored_for_both_orders(smollm2):
    question, good, bad = CASES[1]
    ab, ba = judge_pair(smollm2, question, good, bad, "good|bad")
    for j in (ab, ba):
        assert j.p_a + j.p_b + j.p_tie == pytest.approx(1.0)
        # The sampled verdict is the most probable one: a single-token choice at temperature 0.
        assert (
            max(("A", j.p_a), ("B", j.p_b), ("tie", j.p_tie), key=lambda kv: kv[1])[0] == j.verdict
        )
