"""The token view's pure helpers: escaping, whitespace, the shading scale and the
low-confidence spans, checked against hand-worked values."""

import math
from html.parser import HTMLParser

import pytest

from core.types import TextScore, TokenAlternative, TokenScore
from pages.components.token_view import (
    DARKEST,
    drawn,
    format_prob,
    hover_text,
    least_likely,
    low_confidence_spans,
    shade,
    shade_strength,
    summary_text,
    token_span,
    token_view_html,
)


def _token(text: str, prob: float, rank: int = 1, top=()) -> TokenScore:
    return TokenScore(
        token_id=0, text=text, logprob=math.log(prob), rank=rank, entropy=0.5, top=tuple(top)
    )


def _score(*tokens: TokenScore) -> TextScore:
    return TextScore(
        model_name="m",
        context="ctx",
        continuation="".join(t.text for t in tokens),
        context_tokens=3,
        tokens=tokens,
    )


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(fragment: str) -> _Tags:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser


HOSTILE = [
    "<script>alert(1)</script>",
    "![x](http://example.com/a.png)",
    '" onmouseover="alert(1)',
    "<img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_model_text_stays_text_in_the_token_and_its_hover(text):
    alternative = TokenAlternative(token_id=1, text=text, logprob=math.log(0.2))
    fragment = token_view_html(_score(_token(text, 0.05, rank=2, top=[alternative])))
    parsed = _parse(fragment)
    # Only the view's own tags, with only its own attributes: nothing opened by the text.
    assert {tag for tag, _ in parsed.tags} <= {"div", "p", "span", "b", "ol", "li"}
    assert all(set(attrs) <= {"class", "style", "title"} for _, attrs in parsed.tags)
    # The token is shown as written (once inline, once in the least likely spans) ...
    assert "".join(parsed.text).count(text) == 2
    # ... and its hover names it and the alternative, decoded from the attribute.
    (hover,) = [a["title"] for tag, a in parsed.tags if a.get("class") == "pf-token"]
    assert hover.startswith(repr(text)) and f"  {repr(text)}  p 0.200" in hover


def test_whitespace_stays_faithful_and_visible():
    assert drawn("\n") == "↵\n"
    assert drawn(" a\tb\n\n") == " a→\tb↵\n↵\n"
    assert drawn("") == "∅"
    span = _parse(token_span(_token(" the", 0.5)))
    assert span.text == [" the"]  # the leading space is kept, not trimmed
    fragment = token_view_html(_score(_token("Hi", 0.9), _token("\n", 0.9), _token("  x", 0.9)))
    assert "white-space:pre-wrap" in fragment
    assert "".join(_parse(fragment).text).endswith("Hi↵\n  xNo token below p 0.1.")


def test_shade_is_white_when_certain_and_darkest_at_the_floor():
    assert shade(1.0) == "#ffffff"
    darkest = "#{:02x}{:02x}{:02x}".format(*DARKEST)
    assert shade(1e-3) == shade(1e-9) == darkest
    # p = 0.1 is a third of the way down the log scale: 255 + (c - 255) / 3 per channel,
    # (230, 97, 1) -> (246.67, 202.33, 170.33).
    assert shade_strength(0.1) == pytest.approx(1 / 3)
    assert shade(0.1) == "#f7caaa"


def test_shading_darkens_monotonically_as_probability_falls():
    probabilities = [1.0, 0.99, 0.9, 0.5, 0.3, 0.1, 0.05, 0.01, 0.002, 0.001, 1e-5]
    channels = [tuple(int(shade(p)[i : i + 2], 16) for i in (1, 3, 5)) for p in probabilities]
    for lighter, darker in zip(channels, channels[1:], strict=False):
        assert all(a >= b for a, b in zip(lighter, darker, strict=True))
        assert sum(lighter) >= sum(darker)
    assert sum(channels[0]) > sum(channels[3]) > sum(channels[5]) > sum(channels[-1])


def test_low_confidence_spans_are_maximal_runs_below_the_threshold():
    probs = [0.9, 0.05, 0.02, 0.5, 0.09, 0.1, 0.95, 0.01]
    tokens = [_token(f"t{i}", p) for i, p in enumerate(probs)]
    spans = low_confidence_spans(tokens, 0.1)
    # 0.1 itself is not below 0.1.
    assert [(s.start, s.text) for s in spans] == [(1, "t1t2"), (4, "t4"), (7, "t7")]
    assert spans[0].min_prob == pytest.approx(0.02)
    assert spans[0].joint_prob == pytest.approx(0.05 * 0.02)
    assert [s.start for s in least_likely(spans)] == [7, 1, 4]  # by lowest token
    assert [s.start for s in least_likely(spans, n=1)] == [7]
    assert low_confidence_spans([], 0.1) == []
    everything = low_confidence_spans(tokens, 1.0)
    assert len(everything) == 1 and everything[0].tokens == tuple(tokens)


def test_the_view_lists_the_least_likely_spans_with_their_probabilities():
    fragment = token_view_html(
        _score(_token("A", 0.9), _token(" odd", 0.04), _token(" word", 0.02), _token(".", 0.8))
    )
    listed = "".join(_parse(fragment).text)
    assert "Least likely spans" in listed
    assert " odd word (token 2–3): p 0.040 · 0.020; together 8.0e-04" in listed


def test_summary_figures_are_worked_by_hand():
    # ln P = ln 0.5 + ln 0.25 = -3 ln 2 over 2 tokens and 2 bytes: cross-entropy 1.5 ln 2 =
    # 1.0397 nats/token, perplexity 2^1.5 = 2.828, 3 bits / 2 bytes = 1.5 bits/byte.
    text = summary_text(_score(_token("a", 0.5), _token("b", 0.25)))
    assert "2 tokens after 3 context tokens" in text
    assert "cross-entropy 1.040 nats/token" in text
    assert "perplexity 2.83" in text and "1.500 bits/byte" in text
    assert "0 token(s) below p 0.1" in text
    assert "1 token(s) below p 0.3" in summary_text(
        _score(_token("a", 0.5), _token("b", 0.25)), 0.3
    )


def test_hover_text_names_probability_rank_entropy_and_alternatives():
    top = [
        TokenAlternative(token_id=1, text=" the", logprob=math.log(0.6)),
        TokenAlternative(token_id=2, text="\n", logprob=math.log(1.2e-5)),
    ]
    hover = hover_text(_token(" a", 0.25, rank=3, top=top))
    assert hover.splitlines() == [
        "' a'  p 0.250 · rank 3",
        "entropy 0.50 nats",
        "likeliest here:",
        "  ' the'  p 0.600",
        "  '\\n'  p 1.2e-05",
    ]
    assert format_prob(0.001) == "0.001" and format_prob(0.00099) == "9.9e-04"


def test_only_low_tokens_are_underlined():
    assert "underline" in token_span(_token("x", 0.09))
    assert "underline" not in token_span(_token("x", 0.1))
