"""Corpus perplexity computed the way llama.cpp's `llama-perplexity` computes it, so the two
figures can be compared on the same model, text and context size.

The method (llama.cpp tools/perplexity/perplexity.cpp): the whole text is tokenised once (with
BOS if the model wants one) and cut into consecutive chunks of n_ctx tokens; a remainder
shorter than a chunk is dropped. Each chunk is evaluated from an empty KV cache, its first token
replaced by BOS where the model uses one. Only the second half of each chunk is scored: the
rows at positions n_ctx/2 .. n_ctx-2 predict the tokens after them, so every scored token has
at least n_ctx/2 tokens of context. The estimate is exp(mean negative log-likelihood) with the
uncertainty llama.cpp prints: PPL * sqrt(var(nll) / (count - 1)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from core.engine.token_scoring import Decode, teacher_forced_logprobs

# Clears the model's KV cache before a chunk: every chunk starts at position 0.
Clear = Callable[[], None]


def chunks(tokens: Sequence[int], n_ctx: int, bos: int | None) -> list[list[int]]:
    """The text's full chunks of n_ctx tokens, each starting with BOS when `bos` is given."""
    whole = len(tokens) // n_ctx
    out = []
    for i in range(whole):
        chunk = list(tokens[i * n_ctx : (i + 1) * n_ctx])
        if bos is not None:
            chunk[0] = bos
        out.append(chunk)
    return out


def chunk_nlls(chunk: Sequence[int], decode: Decode, n_batch: int, max_outputs: int) -> list[float]:
    """Negative log-likelihoods of the tokens in the chunk's second half."""
    first = len(chunk) // 2
    return [-v for v in teacher_forced_logprobs(chunk, first + 1, decode, n_batch, max_outputs)]


def summarise(nlls: Sequence[float]) -> tuple[float, float]:
    """(perplexity, its uncertainty) as llama-perplexity's "Final estimate" prints them."""
    count = len(nlls)
    mean = math.fsum(nlls) / count
    mean_sq = math.fsum(v * v for v in nlls) / count
    ppl = math.exp(mean)
    variance = mean_sq - mean * mean
    spread = math.sqrt(variance / (count - 1)) if variance > 0 and count > 1 else 0.0
    return ppl, spread * ppl


def running_perplexities(nlls: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The estimate after each chunk, as llama-perplexity's [1]…[n] line shows it."""
    seen: list[float] = []
    out = []
    for chunk in nlls:
        seen.extend(chunk)
        out.append(summarise(seen)[0])
    return tuple(out)


def corpus_nlls(
    tokens: Sequence[int],
    n_ctx: int,
    bos: int | None,
    decode: Decode,
    clear: Clear,
    n_batch: int,
    max_outputs: int,
    on_chunk: Callable[[int, int, float], None] | None = None,
) -> list[list[float]]:
    """Per chunk, the scored tokens' negative log-likelihoods. on_chunk(done, total, running
    perplexity) reports progress, as llama-perplexity's [i]PPL line does."""
    parts = chunks(tokens, n_ctx, bos)
    out: list[list[float]] = []
    for i, chunk in enumerate(parts):
        clear()
        out.append(chunk_nlls(chunk, decode, n_batch, max_outputs))
        if on_chunk:
            on_chunk(i + 1, len(parts), running_perplexities(out)[-1])
    return out
