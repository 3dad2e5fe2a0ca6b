"""Scoring an answer under the prompt it was generated from (core/app/scoring.py), on the fake
backend: chat prompts go through the chat format, raw prompts as given, and a stored
refinement step is scored under its own prompt, never one that already holds its answer."""

import pytest

from core.app.scoring import prompt_before_answer, score_answer, score_step
from core.engine.fake import FakeBackend
from core.engine.prompts import fallback_chat_prompt
from core.errors import InvalidRequest
from core.evaluation.refine import run_refinement
from core.types import RefineRequest, SamplerSettings
from tests.support import scripted

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def test_a_chat_answer_is_scored_after_the_chat_formatted_prompt():
    fake = FakeBackend()
    score = score_answer(fake, MESSAGES, "Because of scattering.")
    assert score.context == fallback_chat_prompt(MESSAGES)
    assert score == fake.score_text(fallback_chat_prompt(MESSAGES), "Because of scattering.")
    assert [t.text for t in score.tokens] == ["Because", "of", "scattering."]


def test_a_raw_prompt_is_scored_as_given():
    score = score_answer(FakeBackend(), "The sky is", " blue today")
    assert score.context == "The sky is" and score.context_tokens == 4  # "<s>" and 3 words


def test_an_empty_answer_or_a_backend_without_probabilities_is_refused_in_words():
    with pytest.raises(InvalidRequest, match="answer is empty"):
        score_answer(FakeBackend(), MESSAGES, " \n")
    with pytest.raises(InvalidRequest, match="exposes no token probabilities"):
        score_answer(FakeBackend(probabilities=False), MESSAGES, "Because.")


def test_a_recorded_chat_prompt_is_a_copy_of_the_conversation():
    fake = FakeBackend()
    messages = list(MESSAGES)
    gen = fake.chat(messages, SamplerSettings(temperature=0.0))
    messages.append({"role": "assistant", "content": gen.text})
    assert gen.prompt == MESSAGES


def test_stored_refinement_steps_hold_the_prompt_each_was_asked(store):
    fake = FakeBackend(responder=scripted())
    request = RefineRequest("Tell me a fact.", 1, SamplerSettings(temperature=0.0))
    outcome = run_refinement(store, fake, request)
    steps = store.generations.steps(outcome.run_id)
    assert list(steps.kind) == ["baseline", "critique", "verdict", "refined"]
    for row in steps.itertuples():
        prompt, text = store.generations.step_input(outcome.run_id, row.step)
        assert prompt[-1]["role"] == "user" and text == row.text
        assert len(prompt) == 1 + 2 * row.step  # the question, then one exchange per step
        assert text not in [m["content"] for m in prompt]
    rewrite = score_step(fake, outcome.run_id, 3)
    assert rewrite.context.endswith("Assistant:") and "critique number 1" in rewrite.context
    assert [t.text for t in rewrite.tokens] == ["better", "answer", "1"]
    with pytest.raises(InvalidRequest, match="has no step 9"):
        score_step(fake, outcome.run_id, 9)


def test_prompts_stored_with_their_own_answer_appended_lose_that_answer():
    # Steps stored before backends copied the conversation: the answer followed the prompt.
    old = [*MESSAGES, {"role": "assistant", "content": "Scattering."}]
    assert prompt_before_answer(old) == MESSAGES
    assert prompt_before_answer(MESSAGES) == MESSAGES
    assert prompt_before_answer("raw prompt") == "raw prompt"
