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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.choices import log_softmax

# decode(tokens, first_position, wants_row) evaluates `tokens` at consecutive positions from
# `first_position` and returns the logits rows of the flagged positions, in order. A row may
# be invalidated by the next call, so it must be consumed before decoding again.
Decode = Callable[[Sequence[int], int, Sequence[bool]], Iterable[np.ndarray]]

# Upper bound on the logits llama.cpp holds for one decode call. Its output buffer grows to
# the largest number of rows ever requested and stays there, so a 512-token batch of Gemma
# rows would keep 512 MiB for the life of the model; 64 MiB still lets SmolLM2 (192 KiB a row)
# decode 341 scored positions at once.
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


def reduce_row(logits: np.ndarray, token_id: int, top_k: int) -> RowReduction:
    """Log-probability of `token_id` under softmax(logits), its rank (1 + how many tokens are
    strictly likelier, so tied tokens share the best rank), the entropy in nats and the top_k
    alternatives."""
    if not 0 <= token_id < logits.shape[0]:
        raise ValueError(f"token {token_id} is outside the vocabulary of {logits.shape[0]}")
    log_probs = log_softmax(logits)
    # Ranks come from the raw logits: the shift in log_softmax may round two close values to
    # the same float64, which would invent a tie.
    rank = 1 + int(np.count_nonzero(logits > logits[token_id]))
    probs = np.exp(log_probs)
    # Masked tokens (logit -inf) have p = 0 and contribute nothing; 0 * -inf would be nan.
    alive = probs > 0
    entropy = -float(np.sum(probs[alive] * log_probs[alive]))
    top = top_k_ids(logits, top_k)
    return RowReduction(
        token_id=int(token_id),
        logprob=float(log_probs[token_id]),
        rank=rank,
        entropy=max(entropy, 0.0),  # a one-hot row can come out as -0.0 or -1e-17
        top_ids=tuple(int(i) for i in top),
        top_logprobs=tuple(float(log_probs[i]) for i in top),
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
    if n_context < 1:
        raise ValueError("at least one context token is needed to predict the first one")
    if len(tokens) <= n_context:
        raise ValueError("nothing to score after the context")
    first_output = n_context - 1
    reductions: list[RowReduction] = []
    for start, end in plan_batches(len(tokens) - 1, first_output, n_batch, max_outputs):
        wants = [p >= first_output for p in range(start, end)]
        scored = [p + 1 for p in range(start, end) if p >= first_output]
        rows = decode(tokens[start:end], start, wants)
        for target, row in zip(scored, rows, strict=True):
            reductions.append(reduce_row(row, tokens[target], top_k))
    return reductions
