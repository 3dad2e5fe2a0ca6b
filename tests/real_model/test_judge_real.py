"""SmolLM2 as an offline judge: every verdict parses because the grammar forces its form."""

import pytest

from core.evaluation.judge import (
    JUDGE_SETTINGS,
    SINGLE_GRAMMAR,
    combine_orders,
    grade,
    judge_pair,
)
from core.types import SamplerSettings

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


def _rating_messages(question: str, answer: str) -> list[dict[str, str]]:
    from core.evaluation.judge import SINGLE_TEMPLATE

    prompt = SINGLE_TEMPLATE.format(question=question, answer=answer, reference="")
    return [{"role": "user", "content": prompt}]


def _sampled_after_prefix(backend, messages: list[dict[str, str]]) -> str:
    """llama.cpp's own grammar sampler at temperature 0, with "Rating: " already in the
    prompt as the model's own tokens: the independent check of the greedy rating."""
    context, _ = backend._chat_tokens(messages)
    prefix = backend.llm.tokenize(b"Rating: ", add_bos=False, special=False)
    grammar = backend._grammar('root ::= [1-9] | "10"')  # takes the lock itself
    with backend.lock:
        result = backend.llm.create_completion(
            context + prefix,
            max_tokens=3,
            temperature=0.0,
            repeat_penalty=1.0,
            seed=0,
            grammar=grammar,
        )
    return result["choices"][0]["text"].strip()


@pytest.mark.parametrize("model_name", ["smollm2", "gemma"])
def test_judge_ratings_are_the_greedy_choice_on_the_models_own_tokens(model_name, real_models):
    """On both default models: the distribution sums to 1; the judge's rating is the one
    llama.cpp's grammar sampler writes at temperature 0 once "Rating: " is in the model's own
    tokens (left to spell the prefix itself, the sampler wrote "R"+"ati"+"ng" on Gemma and
    then 10 where the canonical path gives 4); the expected score is the distribution's mean;
    a fresh model (nothing in its KV cache) gives the same probabilities as one that just
    judged."""
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
            messages = _rating_messages(question, answer)
            scored = warm.score_choices(messages, "Rating: ", RATINGS)
            assert sum(scored.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
            assert f"{judged.score:g}" == scored.greedy == _sampled_after_prefix(warm, messages)
            mean = sum(int(r) * q for r, q in scored.probabilities.items())
            assert mean == pytest.approx(judged.expected_score)
    # History independence: a fresh model, and one that has just sampled "Rating: N" to the
    # same question token by token (so its KV cache holds single-step entries for the
    # prefix), give exactly the same probabilities.
    messages = _rating_messages(*CASES[0][:2])
    warm.chat(messages, SamplerSettings(grammar=SINGLE_GRAMMAR, **JUDGE_SETTINGS))
    fresh = LlamaBackend(resolve(name, real_models), n_ctx=2048, threads=2)
    cold = fresh.score_choices(messages, "Rating: ", RATINGS).probabilities
    hot = warm.score_choices(messages, "Rating: ", RATINGS).probabilities
    assert cold == hot
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
