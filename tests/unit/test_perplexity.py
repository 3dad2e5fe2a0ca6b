"""Corpus perplexity by llama-perplexity's method, hand-worked on a model-free decoder."""

import math

import numpy as np
import pytest

from core.engine.perplexity import chunks, corpus_nlls, running_perplexities, summarise


def test_chunks_drop_the_remainder_and_start_with_bos():
    assert chunks(list(range(10)), 4, bos=99) == [[99, 1, 2, 3], [99, 5, 6, 7]]
    assert chunks(list(range(10)), 4, bos=None) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_only_the_second_half_of_each_chunk_is_scored_from_an_empty_cache():
    """Vocabulary of 4; every row gives token t the logit t, so P(t) = e^t / (1 + e + e² + e³).
    Chunks of 6: rows at positions 3 and 4 score the tokens at 4 and 5."""
    calls, clears = [], []

    def decode(tokens, first_position, wants):
        calls.append((list(tokens), first_position, list(wants)))
        return [np.arange(4, dtype=np.float32) for w in wants if w]

    tokens = [0, 1, 2, 3, 2, 1, 1, 2, 3, 0, 0, 3, 2]  # two chunks of 6 and one left over
    nlls = corpus_nlls(tokens, 6, None, decode, lambda: clears.append(1), 64, 64)
    log_z = math.log(sum(math.exp(t) for t in range(4)))
    assert nlls == [
        pytest.approx([log_z - 2, log_z - 1]),  # chunk 1 scores tokens 2 and 1
        pytest.approx([log_z - 0, log_z - 3]),  # chunk 2 scores tokens 0 and 3
    ]
    assert len(clears) == 2 and [c[1] for c in calls] == [0, 0]
    assert calls[0][2] == [False, False, False, True, True]  # the last token is never decoded


def test_summary_matches_llama_perplexity_formula():
    nlls = [1.0, 2.0, 3.0]
    ppl, spread = summarise(nlls)
    assert ppl == pytest.approx(math.exp(2.0))
    # mean(v²) - mean(v)² = 14/3 - 4 = 2/3; sqrt(2/3 / 2) * PPL
    assert spread == pytest.approx(math.sqrt(1 / 3) * math.exp(2.0))
    assert running_perplexities([[1.0], [3.0]]) == pytest.approx((math.e, math.exp(2.0)))
