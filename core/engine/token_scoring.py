"""Teacher-forced scoring: how likely a model finds each token of a given text, model-free.

A causal model's output row at position p is its distribution over the token at p + 1. So to
score continuation tokens c_0..c_{m-1} after n context tokens, the rows needed are those at
positions n-1 .. n+m-2, and the last continuation token itself never needs evaluating. Rows are
reduced (log-probability, rank, entropy, top-k) as soon as they are produced and then dropped:
a full row is n_vocab floats (1 MiB for Gemma's 262,144), so keeping them would make memory
grow with the text's length.

Everything here is numpy over rows handed in by a `Decode` callable, so the position
bookkeeping and the reduction are tested without a model; core/engine/llama_batch.py supplies
the llama.cpp one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# decode(tokens, first_position, wants_row) evaluates `tokens` at consecutive positions from
# `first_position` and returns the logits rows of the flagged positions, in order. A row may
# be invalidated by the next call, so it must be consumed before decoding again.
Decode = Callable[[Sequence[int], int, Sequence[bool]], Iterable[np.ndarray]]

# Upper bound on the logits llama.cpp holds for one decode call. Its output buffer grows to
# the largest number of rows ever requested and stays there, so a 512-token batch of Gemma
# rows would keep 512 MiB for the life of the model; 64 MiB still lets SmolLM2 (192 KiB a row)
# decode 341 scored positions at once. Gemma then needs 4 decodes for a 512-token chunk, which
# costs no measurable time against one (docs/benchmarks.md, scoring speed and memory).
OUTPUT_BUDGET_BYTES = 64 * 2**20


@dataclass(frozen=True)
class RowReduction:
    """What is kept of one output row: the scored token and the model's top choices."""

    token_id: int
    logprob: float
    rank: int
    entropy: float
    top_ids: tuple[int, ...]
    top_logprobs: tuple[float, ...]


def top_k_ids(logits: np.ndarray, k: int) -> np.ndarray:
    """The k highest entries, highest first; among equal values the lower id comes first, so
    the answer does not depend on how argpartition happens to break ties."""
    k = min(k, logits.shape[0])
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    threshold = np.partition(logits, logits.shape[0] - k)[logits.shape[0] - k]
    candidates = np.flatnonzero(logits >= threshold)  # more than k when the k-th value ties
    order = np.lexsort((candidates, -logits[candidates]))
    return candidates[order[:k]]


class RowWork:
    """Two float64 rows of work space, reused from one row to the next: allocating them per
    row (2 MiB each for Gemma) costs about as much as the arithmetic itself."""

    def __init__(self, n_vocab: int):
        self.shifted = np.empty(n_vocab)
        self.weights = np.empty(n_vocab)

    def fits(self, logits: np.ndarray) -> bool:
        return self.shifted.shape == logits.shape

    def normalise(self, logits: np.ndarray) -> float:
        """Fills shifted = logits - max(logits) in float64 (as log_softmax shifts) and
        weights = exp(shifted); returns their total Z, so that log P(i) = shifted[i] - log Z."""
        np.subtract(logits, float(np.max(logits)), out=self.shifted, dtype=np.float64)
        np.exp(self.shifted, out=self.weights)
        return float(np.sum(self.weights))


def row_logprob(logits: np.ndarray, token_id: int, work: RowWork | None = None) -> float:
    """log softmax(logits)[token_id] alone, in float64, with the same operations as
    reduce_row's: what perplexity needs, at a fraction of the cost."""
    if not 0 <= token_id < logits.shape[0]:
        raise ValueError(f"token {token_id} is outside the vocabulary of {logits.shape[0]}")
    work = work if work is not None and work.fits(logits) else RowWork(logits.shape[0])
    total = work.normalise(logits)
    return float(work.shifted[token_id]) - float(np.log(total))  # np.log: as log_softmax rounds


def reduce_row(
    logits: np.ndarray, token_id: int, top_k: int, work: RowWork | None = None
) -> RowReduction:
    """Log-probability of `token_id` under softmax(logits), its rank (1 + how many tokens are
    strictly likelier, so tied tokens share the best rank), the entropy in nats and the top_k
    alternatives. `work` is reused space (one is made when not given)."""
    if not 0 <= token_id < logits.shape[0]:
        raise ValueError(f"token {token_id} is outside the vocabulary of {logits.shape[0]}")
    work = work if work is not None and work.fits(logits) else RowWork(logits.shape[0])
    total = work.normalise(logits)
    shifted, log_total = work.shifted, float(np.log(total))
    # Ranks come from the raw logits: the shift may round two close values to the same
    # float64, which would invent a tie.
    rank = 1 + int(np.count_nonzero(logits > logits[token_id]))
    # H = -sum p·log p with p = w/Z, w = exp(shifted): H = log Z - sum(w·shifted) / Z.
    # einsum rather than np.dot, whose BLAS threads would fight llama.cpp's for the cores.
    weighted = float(np.einsum("i,i->", work.weights, shifted))
    if math.isnan(weighted):
        # Masked tokens (logit -inf) have w = 0 and contribute nothing; 0 * -inf is nan.
        alive = work.weights > 0
        weighted = float(np.einsum("i,i->", work.weights[alive], shifted[alive]))
    entropy = log_total - weighted / total
    top = top_k_ids(logits, top_k)
    return RowReduction(
        token_id=int(token_id),
        logprob=float(shifted[token_id]) - log_total,
        rank=rank,
        entropy=max(entropy, 0.0),  # a one-hot row can come out as -0.0 or -1e-17
        top_ids=tuple(int(i) for i in top),
        top_logprobs=tuple(float(shifted[i]) - log_total for i in top),
    )


def plan_batches(
    n_positions: int, first_output: int, n_batch: int, max_outputs: int
) -> list[tuple[int, int]]:
    """[start, end) ranges covering positions 0..n_positions-1, each at most n_batch long and
    with at most max_outputs positions at or after first_output (the ones that need a row)."""
    if n_batch < 1 or max_outputs < 1:
        raise ValueError("n_batch and max_outputs must be positive")
    batches = []
    start = 0
    while start < n_positions:
        end = min(n_positions, start + n_batch, max(start, first_output) + max_outputs)
        batches.append((start, end))
        start = end
    return batches


def scored_rows(
    tokens: Sequence[int], n_context: int, decode: Decode, n_batch: int, max_outputs: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(token, the row one position earlier that predicts it) for each token of
    tokens[n_context:], in order. Each row is valid only until the next one is asked for.
    The caller starts from an empty KV cache: positions begin at 0."""
    if n_context < 1:
        raise ValueError("at least one context token is needed to predict the first one")
    if len(tokens) <= n_context:
        raise ValueError("nothing to score after the context")
    first_output = n_context - 1
    for start, end in plan_batches(len(tokens) - 1, first_output, n_batch, max_outputs):
        wants = [p >= first_output for p in range(start, end)]
        scored = [tokens[p + 1] for p in range(start, end) if p >= first_output]
        rows = decode(tokens[start:end], start, wants)
        yield from zip(scored, rows, strict=True)


def teacher_forced(
    tokens: Sequence[int],
    n_context: int,
    decode: Decode,
    top_k: int,
    n_batch: int,
    max_outputs: int,
) -> list[RowReduction]:
    """One RowReduction per token of tokens[n_context:], each from the row one position
    earlier. The caller starts from an empty KV cache: positions begin at 0."""
    work = None
    reductions: list[RowReduction] = []
    for token, row in scored_rows(tokens, n_context, decode, n_batch, max_outputs):
        work = work if work is not None and work.fits(row) else RowWork(row.shape[0])
        reductions.append(reduce_row(row, token, top_k, work))
    return reductions


def teacher_forced_logprobs(
    tokens: Sequence[int], n_context: int, decode: Decode, n_batch: int, max_outputs: int
) -> list[float]:
    """teacher_forced's log-probabilities alone, without ranks, entropies or alternatives."""
    work = None
    logprobs: list[float] = []
    for token, row in scored_rows(tokens, n_context, decode, n_batch, max_outputs):
        work = work if work is not None and work.fits(row) else RowWork(row.shape[0])
        logprobs.append(row_logprob(row, token, work))
    return logprobs
