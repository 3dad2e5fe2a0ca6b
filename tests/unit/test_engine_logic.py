"""Request validation, the fallback prompt format and the fake backend's contract."""

import pytest

from core.engine.fake import FakeBackend
from core.engine.prompts import check_messages, check_prompt, fallback_chat_prompt
from core.errors import GenerationFailed, InvalidRequest, PromptTooLong
from core.types import SamplerSettings


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_rejected(prompt):
    with pytest.raises(InvalidRequest, match="empty"):
        check_prompt(prompt)
    with pytest.raises(InvalidRequest, match="empty"):
        FakeBackend().chat([{"role": "user", "content": prompt}], SamplerSettings())


def test_unknown_role_and_empty_chat_are_rejected():
    with pytest.raises(InvalidRequest, match="role"):
        check_messages([{"role": "wizard", "content": "hi"}])
    with pytest.raises(InvalidRequest, match="empty"):
        check_messages([])


@pytest.mark.parametrize(
    "kwargs",
    [{"temperature": -0.1}, {"top_p": 0}, {"max_tokens": 0}, {"seed": -1}, {"temperature": 9}],
)
def test_bad_sampler_settings_are_rejected(kwargs):
    with pytest.raises(InvalidRequest):
        SamplerSettings(**kwargs)


def test_fallback_prompt_format():
    text = fallback_chat_prompt(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": " Hi "},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
        ]
    )
    assert text == "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:"


def test_fake_backend_is_deterministic_and_streams():
    pieces = []
    a = FakeBackend().complete("same prompt", SamplerSettings(seed=1), pieces.append)
    b = FakeBackend().complete("same prompt", SamplerSettings(seed=1))
    c = FakeBackend().complete("same prompt", SamplerSettings(seed=2))
    assert a.text == b.text != c.text
    assert "".join(pieces).strip() == a.text


def test_fake_backend_honours_stop_and_max_tokens():
    fake = FakeBackend(["one two three STOP four", "a b c d e f"])
    stopped = fake.complete("q", SamplerSettings(stop=(" STOP",)))
    assert (stopped.text, stopped.finish_reason) == ("one two three", "stop")
    cut = fake.complete("q", SamplerSettings(max_tokens=3))
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("a b c", "length", 3)


def test_fake_backend_reports_prefix_reuse_like_a_kv_cache():
    fake = FakeBackend()
    first = fake.complete("w1 w2 w3 w4", SamplerSettings())
    second = fake.complete("w1 w2 w3 w4 w5 w6", SamplerSettings())
    assert (first.prompt_tokens, first.prompt_tokens_evaluated) == (4, 4)
    assert (second.prompt_tokens, second.prompt_tokens_evaluated, second.prompt_tokens_reused) == (
        6,
        2,
        4,
    )


def test_fake_backend_failures_and_context_limit():
    fake = FakeBackend(fail_on_call=2)
    fake.complete("ok", SamplerSettings())
    with pytest.raises(GenerationFailed):
        fake.complete("boom", SamplerSettings())
    with pytest.raises(PromptTooLong):
        FakeBackend().complete("word " * 600, SamplerSettings())
