"""The token view's context is exactly what the model saw: SmolLM2's greedy answers, scored
under their chat-formatted prompts, come out as the model's own top choices.

Greedy here means temperature 0 with no repeat penalty, so every sampled token was the argmax
of the model's distribution at its step. Measured (3 prompts, 179 tokens): 176 at rank 1; the
other 3 at rank 2 behind a near-tie (0.009, 0.009 and 0.10 nats from the top), as the
generation's one-token decodes and the scorer's batches round differently. Scored after the
bare question instead of the chat template, the same answers fall to 145 of 179 at rank 1 and
every cross-entropy rises (0.65 -> 1.00, 0.15 -> 1.62, 0.61 -> 0.79 nats/token).
"""

import json

import pytest

from core.app.scoring import score_answer
from core.types import SamplerSettings
from tests.support import run_cli

pytestmark = pytest.mark.real_model

PROMPTS = (
    "Explain in two sentences why the sky is blue.",
    "What is the capital of France? Answer in one sentence.",
    "Give me three tips for writing a clear email.",
)
GREEDY = SamplerSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=96, seed=7)
NEAR_TIE_NATS = 0.25  # how far behind the top a greedy token may score (measured 0.10 at most)


@pytest.fixture(scope="module")
def answers(smollm2):
    """(generation, its score under the chat prompt, the model's sampled token ids) per prompt."""
    found = []
    for prompt in PROMPTS:
        gen = smollm2.chat([{"role": "user", "content": prompt}], GREEDY)
        # The backend's own record of what it sampled, EOS included (instrumentation).
        sampled = [token for _, token in smollm2._sampled]
        found.append((gen, score_answer(smollm2, gen.prompt, gen.text), sampled))
    return found


def test_greedy_answers_score_rank_one_under_their_chat_prompt(answers):
    ranks = [t.rank for _, score, _ in answers for t in score.tokens]
    share = sum(r == 1 for r in ranks) / len(ranks)
    assert len(ranks) > 100
    assert share >= 0.95, f"{share:.3f} of {len(ranks)} tokens at rank 1"
    for _, score, _ in answers:
        for t in score.tokens:
            if t.rank > 1:
                assert t.top[0].logprob - t.logprob < NEAR_TIE_NATS, (t.text, t.top[:2])


def test_the_scored_tokens_are_the_tokens_the_model_wrote(answers):
    for gen, score, sampled in answers:
        assert score.context_tokens == gen.prompt_tokens  # the same prompt, token for token
        assert score.context.startswith("<|im_start|>")  # the chat template, not the question
        assert score.context.endswith("<|im_start|>assistant\n")
        assert "".join(t.text for t in score.tokens) == gen.text
        assert [t.token_id for t in score.tokens] == sampled[: score.n_tokens]
        assert score.n_tokens == gen.completion_tokens


def test_the_bare_question_is_a_worse_context_than_the_chat_prompt(answers, smollm2):
    """The check above can fail: the same answers after the question alone are less likely."""
    for (gen, score, _), prompt in zip(answers, PROMPTS, strict=True):
        bare = smollm2.score_text(prompt, gen.text)
        assert bare.cross_entropy > score.cross_entropy


def test_perfics_score_chat_prints_the_same_scores(answers):
    """`perfics score --chat` scores a reply under the chat template, as the dashboard does."""
    gen, score, _ = answers[1]
    result = run_cli(
        "score",
        "--model",
        "SmolLM2",
        "--chat",
        "--context",
        PROMPTS[1],
        "--continuation",
        gen.text,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["context"] == score.context and printed["context_tokens"] == gen.prompt_tokens
    assert [t["token_id"] for t in printed["tokens"]] == [t.token_id for t in score.tokens]
    for shown, ours in zip(printed["tokens"], score.tokens, strict=True):
        assert shown["logprob"] == pytest.approx(ours.logprob, abs=1e-4)
