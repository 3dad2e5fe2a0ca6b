"""A text token by token, shaded by how likely the model found each token.

Built from a TextScore (core/app/scoring.py). Each token is a span whose background darkens as
its probability falls: one hue from white to orange, so the order reads by lightness alone
and needs no colour vision. Tokens below LOW_PROBABILITY also get a dotted underline, and
runs of them are listed as the least likely spans. Hovering a token shows its text, its
probability and rank, the entropy of the model's distribution there and the likeliest
alternatives.

Token text is untrusted model output: it reaches the HTML only through escape_html, inside a
`white-space: pre-wrap` block so spaces and line breaks stay as written; a newline or tab is
also drawn (↵, →) so a whitespace-only token can be seen and hovered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from core.app.scoring import score_answer
from core.errors import PerficsError
from core.types import Generation, ModelInfo, TextScore, TokenScore
from pages.components import resources
from pages.components.text import escape, escape_html

LOW_PROBABILITY = 0.1  # tokens below it are underlined and listed as low-confidence spans
SHADE_FLOOR = 1e-3  # at or below this probability a token gets the darkest shade
# ColorBrewer's PuOr orange: black text on it keeps a contrast of about 6:1.
DARKEST = (0xE6, 0x61, 0x01)
LEGEND_PROBABILITIES = (1.0, 0.5, 0.1, 0.01, SHADE_FLOOR)
LISTED_SPANS = 5
SCORES_KEY = "token_view_scores"  # session cache of scores, shared by the pages
KEPT_SCORES = 16
VISIBLE_WHITESPACE = {"\n": "↵\n", "\t": "→\t", "\r": "␍"}


def shade_strength(prob: float) -> float:
    """0 for a certain token, 1 at SHADE_FLOOR and below, linear in log10(p) in between: a
    token at p = 0.1 is a third of the way to the darkest, p = 0.01 two thirds. A log scale,
    because 0.01 and 0.0001 are both surprising while 0.9 and 0.6 differ little."""
    if prob >= 1.0:
        return 0.0
    if prob <= SHADE_FLOOR:
        return 1.0
    return math.log10(prob) / math.log10(SHADE_FLOOR)


def shade(prob: float) -> str:
    """Background colour for a token of probability `prob`: white blended towards DARKEST."""
    strength = shade_strength(prob)
    r, g, b = (round(255 + strength * (channel - 255)) for channel in DARKEST)
    return f"#{r:02x}{g:02x}{b:02x}"


def format_prob(prob: float) -> str:
    return f"{prob:.3f}" if prob >= 0.001 else f"{prob:.1e}"


def quoted(text: str) -> str:
    """A token as Python writes a string: quotes show leading spaces, escapes show newlines."""
    return repr(text)


def drawn(text: str) -> str:
    """A token as it appears inline: as written, newlines and tabs also drawn, never empty."""
    if not text:
        return "∅"
    return "".join(VISIBLE_WHITESPACE.get(ch, ch) for ch in text)


def hover_text(token: TokenScore) -> str:
    lines = [
        f"{quoted(token.text)}  p {format_prob(token.prob)} · rank {token.rank}",
        f"entropy {token.entropy:.2f} nats",
    ]
    if token.top:
        lines.append("likeliest here:")
        lines += [f"  {quoted(a.text)}  p {format_prob(a.prob)}" for a in token.top]
    return "\n".join(lines)


def token_span(token: TokenScore, threshold: float = LOW_PROBABILITY) -> str:
    # The inset shadow marks where one token ends and the next begins, without taking width.
    style = (
        f"background:{shade(token.prob)};color:#000;cursor:help;"
        "box-shadow:inset -1px 0 0 rgba(0,0,0,0.15)"
    )
    if token.prob < threshold:
        style += ";text-decoration:underline dotted 2px;text-underline-offset:3px"
    return (
        f'<span class="pf-token" style="{style}" title="{escape_html(hover_text(token))}">'
        f"{escape_html(drawn(token.text))}</span>"
    )


@dataclass(frozen=True)
class LowSpan:
    """Consecutive tokens each below the threshold; start is the first one's index."""

    start: int
    tokens: tuple[TokenScore, ...]

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)

    @property
    def min_prob(self) -> float:
        return min(t.prob for t in self.tokens)

    @property
    def joint_prob(self) -> float:
        """P(the whole span | everything before it)."""
        return math.exp(math.fsum(t.logprob for t in self.tokens))


def low_confidence_spans(
    tokens: Sequence[TokenScore], threshold: float = LOW_PROBABILITY
) -> list[LowSpan]:
    """The maximal runs of consecutive tokens with p < threshold, in text order."""
    spans: list[LowSpan] = []
    run: list[TokenScore] = []
    for i, token in enumerate([*tokens, None]):
        if token is not None and token.prob < threshold:
            run.append(token)
        elif run:
            spans.append(LowSpan(i - len(run), tuple(run)))
            run = []
    return spans


def least_likely(spans: Sequence[LowSpan], n: int = LISTED_SPANS) -> list[LowSpan]:
    """The n spans holding the least likely tokens, lowest first (text order among ties)."""
    return sorted(spans, key=lambda s: s.min_prob)[:n]


def summary_text(score: TextScore, threshold: float = LOW_PROBABILITY) -> str:
    below = sum(1 for t in score.tokens if t.prob < threshold)
    return (
        f"{score.model_name}: {score.n_tokens} tokens after {score.context_tokens} context "
        f"tokens · cross-entropy {score.cross_entropy:.3f} nats/token · perplexity "
        f"{score.perplexity:.2f} · {score.bits_per_byte:.3f} bits/byte · {below} token(s) "
        f"below p {threshold:g}"
    )


def legend_html(threshold: float = LOW_PROBABILITY) -> str:
    swatches = " ".join(
        f'<span style="background:{shade(p)};color:#000;padding:0 0.4em;'
        f'border:1px solid #ccc">'
        f"{'≤ ' if p == SHADE_FLOOR else ''}p {p:g}</span>"
        for p in LEGEND_PROBABILITIES
    )
    return (
        f'<div class="pf-legend" style="font-size:0.85em;margin:0.3em 0">{swatches} · '
        f'<span style="text-decoration:underline dotted 2px">underlined</span>: below p '
        f"{threshold:g} · hover a token for its rank, entropy and alternatives · the "
        "model's own probabilities, before temperature, top-p and repeat penalty</div>"
    )


def spans_html(score: TextScore, threshold: float = LOW_PROBABILITY) -> str:
    spans = least_likely(low_confidence_spans(score.tokens, threshold))
    if not spans:
        return f'<p style="font-size:0.85em">No token below p {threshold:g}.</p>'
    items = []
    for span in spans:
        probs = " · ".join(format_prob(t.prob) for t in span.tokens[:6])
        more = " …" if len(span.tokens) > 6 else ""
        where = f"token {span.start + 1}" + (
            f"–{span.start + len(span.tokens)}" if len(span.tokens) > 1 else ""
        )
        items.append(
            f'<li><span style="background:{shade(span.min_prob)};color:#000;'
            f'white-space:pre-wrap">{escape_html(drawn(span.text))}</span> '
            f"({where}): p {probs}{more}; together {format_prob(span.joint_prob)}</li>"
        )
    return (
        f'<div class="pf-low" style="font-size:0.85em"><b>Least likely spans</b> '
        f"(consecutive tokens below p {threshold:g}, least likely first)"
        f"<ol>{''.join(items)}</ol></div>"
    )


def token_view_html(score: TextScore, threshold: float = LOW_PROBABILITY) -> str:
    """The whole view as one HTML fragment: summary, legend, tokens, least likely spans."""
    tokens = "".join(token_span(t, threshold) for t in score.tokens)
    return (
        f'<div class="pf-token-view"><p style="font-size:0.85em;margin:0">'
        f"{escape_html(summary_text(score, threshold))}</p>{legend_html(threshold)}"
        f'<div class="pf-tokens" style="white-space:pre-wrap;line-height:1.9;'
        f'border:1px solid #ccc;border-radius:0.4em;padding:0.5em">{tokens}</div>'
        f"{spans_html(score, threshold)}</div>"
    )


def show_token_view(score: TextScore) -> None:
    st.html(token_view_html(score))
    with st.expander(f"Context it was scored after ({score.context_tokens} tokens)"):
        st.code(score.context, language=None, wrap_lines=True)


def _scored(key: str, compute: Callable[[], TextScore]) -> TextScore | None:
    """A score computed once per key and kept in the session; a domain error is shown."""
    cache = st.session_state.setdefault(SCORES_KEY, {})
    if key not in cache:
        try:
            with st.spinner("Scoring each token…"):
                cache[key] = compute()
        except PerficsError as exc:
            st.error(str(exc))
            return None
        while len(cache) > KEPT_SCORES:
            cache.pop(next(iter(cache)))
    return cache[key]


def token_panel(
    key: str, info: ModelInfo | None, model_name: str, score: Callable[..., TextScore]
) -> None:
    """Loads the model (shared with the pages) and shows what `score(backend)` returns."""
    if info is None:
        st.error(f"{model_name} is not among the usable models any more, so nothing is scored.")
        return
    result = _scored(key, lambda: score(resources.backend(info)))
    if result is not None:
        show_token_view(result)


def generation_tokens(page: str, generation_id: str, info: ModelInfo | None, gen: Generation):
    """Under a generated answer: a toggle showing it token by token, and a form to score a
    pasted reference answer under the same prompt."""
    if info is not None and info.endpoint is not None:
        st.caption(
            f"Token probabilities come from a model's GGUF file; {escape(info.name)} is served "
            f"by endpoint {escape(info.endpoint.name)}."
        )
        return
    key = f"{page}_tokens_{generation_id}"
    if st.toggle("Show tokens", key=f"{key}_on", help="Each token shaded by its probability."):
        token_panel(key, info, gen.model_name, lambda b: score_answer(b, gen.prompt, gen.text))
    with st.expander("Score a reference answer under the same prompt"):
        with st.form(f"{page}_reference"):
            reference = st.text_area("Reference answer", key=f"{page}_reference_text")
            submitted = st.form_submit_button("Score reference")
    if submitted:
        st.session_state[f"{key}_reference"] = reference
    pasted = st.session_state.get(f"{key}_reference")
    if pasted is not None:
        st.markdown("**Reference answer, token by token**")
        token_panel(
            f"{key}_reference:{pasted}",
            info,
            gen.model_name,
            lambda b: score_answer(b, gen.prompt, pasted),
        )
