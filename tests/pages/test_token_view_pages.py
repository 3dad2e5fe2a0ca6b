"""AppTest for the token view on the Models and Refine pages, on the fake backend (words are
its tokens, so each span is a word of the answer)."""

import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.app import context
from core.engine.fake import FakeBackend
from core.engine.prompts import fallback_chat_prompt
from tests.support import scripted

TITLE = re.compile(r'<span class="pf-token"[^>]*title="([^"]*)">([^<]*)</span>')


def _spans(at: AppTest) -> list[tuple[str, str]]:
    """(hover text, shown text) of every token span on the page, entities decoded."""
    found = []
    for block in at.html:
        found += [(html.unescape(t), html.unescape(s)) for t, s in TITLE.findall(block.proto.body)]
    return found


def _generate(at: AppTest, prompt: str) -> AppTest:
    at.text_area(key="models_prompt").set_value(prompt)
    at.slider(key="models_temperature").set_value(0.0)
    at.number_input(key="models_max_tokens").set_value(32)
    at.button(key="FormSubmitter:models_try-Generate").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _answer_toggle(at: AppTest):
    (toggle,) = [t for t in at.toggle if t.key.startswith("models_tokens_")]
    return toggle


def test_models_page_shows_the_answer_token_by_token(open_page, fake_mode):
    at = _generate(open_page(), "Why is the sky blue?")
    assert not at.html  # nothing is scored until asked
    _answer_toggle(at).set_value(True)
    at.run()
    assert not at.exception and not at.error
    spans = _spans(at)
    answer = at.session_state["models_last"].generation.text
    # The fake's tokens are the answer's words, one span each, in order.
    assert [shown for _, shown in spans] == answer.split()
    for hover, shown in spans:
        assert hover.startswith(repr(shown))
        assert re.search(r"p \d\.\d{3}|p \d\.\de-\d\d", hover) and "rank" in hover
        assert "entropy" in hover and "nats" in hover
    body = at.html[0].proto.body
    assert "cross-entropy" in body and "perplexity" in body and "bits/byte" in body
    # The context shown is the chat prompt the fake was given: its transcript format.
    expected = fallback_chat_prompt([{"role": "user", "content": "Why is the sky blue?"}])
    assert at.code[0].value == expected


def test_a_pasted_reference_is_scored_under_the_same_prompt(open_page, fake_mode):
    at = _generate(open_page(), "Why is the sky blue?")
    at.text_area(key="models_reference_text").set_value("Rayleigh scattering <script>x</script>")
    at.button(key="FormSubmitter:models_reference-Score reference").click()
    at.run()
    assert not at.exception and not at.error
    assert [shown for _, shown in _spans(at)] == ["Rayleigh", "scattering", "<script>x</script>"]
    assert "<script>" not in at.html[0].proto.body  # escaped: text, never a tag
    # The answer's own view and the reference's stay side by side.
    _answer_toggle(at).set_value(True)
    at.run()
    assert len(at.html) == 2


def test_an_empty_reference_is_refused_in_words(open_page, fake_mode):
    at = _generate(open_page(), "Why is the sky blue?")
    at.text_area(key="models_reference_text").set_value("   ")
    at.button(key="FormSubmitter:models_reference-Score reference").click()
    at.run()
    assert not at.exception
    assert "answer is empty" in at.error[0].value
    assert not at.html


def test_a_backend_without_probabilities_says_so(open_page, monkeypatch, fake_mode):
    monkeypatch.setattr(
        context, "open_backend", lambda info, cfg=None: FakeBackend(info=info, probabilities=False)
    )
    at = _generate(open_page(), "Why is the sky blue?")
    _answer_toggle(at).set_value(True)
    at.run()
    assert not at.exception
    assert "exposes no token probabilities" in at.error[0].value


@pytest.fixture
def scripted_fake(monkeypatch, fake_mode):
    monkeypatch.setattr(
        context, "open_backend", lambda info, cfg=None: FakeBackend(info=info, responder=scripted())
    )


def test_refine_page_shows_each_answer_token_by_token(open_page, store, scripted_fake):
    at = open_page("pages/refine.py")
    at.text_area(key="refine_prompt").set_value("Tell me a fact.")
    at.number_input(key="refine_rounds").set_value(2)
    at.button(key="FormSubmitter:refine_form-Refine").click()
    at.run()
    assert not at.exception, at.exception
    (picker,) = [s for s in at.selectbox if s.key.startswith("refine_tokens_")]
    assert picker.options == [  # shown as labels
        "first answer",
        "round 1 of 2 · critique",
        "round 1 of 2 · rewrite",
        "round 2 of 2 · critique",
        "round 2 of 2 · rewrite (final)",
    ]
    picker.select_index(4).run()
    assert not at.exception and not at.error
    assert [shown for _, shown in _spans(at)] == ["better", "answer", "2"]
    # Scored after the conversation the rewrite was asked in: it ends with the rewrite request
    # and does not already hold the rewrite itself.
    context_shown = at.code[0].value
    assert context_shown.endswith("Assistant:") and "critique number 2" in context_shown
    assert "better answer 2" not in context_shown and "better answer 1" in context_shown
    picker.select_index(0).run()
    assert [shown for _, shown in _spans(at)] == ["first", "answer"]
    assert at.code[0].value.count("User:") == 1
