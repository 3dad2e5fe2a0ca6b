"""Use case: how likely a model finds a given text after a context, token by token."""

from __future__ import annotations

from dataclasses import asdict

from core.app import context
from core.errors import InvalidRequest
from core.types import TextScore


def score_text(model: str, context_text: str, continuation: str, top_k: int = 5) -> TextScore:
    """Loads `model` (a file stem or unique prefix) and scores `continuation` after
    `context_text`. Nothing is stored: a score is cheap to recompute and has no run to join."""
    backend = context.load_backend(model)
    scorer = getattr(backend, "score_text", None)
    score = scorer(context_text, continuation, top_k) if scorer else None
    if score is None:
        raise InvalidRequest(f"{backend.info.name}'s backend exposes no token probabilities.")
    return score


def score_to_json(score: TextScore) -> dict:
    """The record with its totals, which are properties and so absent from asdict."""
    return {
        **asdict(score),
        "n_tokens": score.n_tokens,
        "n_bytes": score.n_bytes,
        "total_logprob": score.total_logprob,
        "cross_entropy": score.cross_entropy,
        "perplexity": score.perplexity,
        "bits_per_byte": score.bits_per_byte,
    }
