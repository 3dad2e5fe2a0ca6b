"""KL divergence by llama-perplexity's statistics, hand-worked on model-free decoders."""

import math

import numpy as np
import pytest

from core.engine.kld import (
    KldTally,
    PositionComparison,
    compare_rows,
    corpus_kld,
    mean_and_uncertainty,
    percentile,
    summarise,
)

NAMES = dict(base_name="b", model_name="m", n_ctx=8, text_tokens=0, chunks=1)


def test_one_position_hand_worked():
    """P = (1/2, 1/2), Q = (1/4, 3/4): KLD = ½ ln(½/¼) + ½ ln(½/¾) = ½ ln(4/3)."""
    base = np.array([0.0, 0.0], dtype=np.float32)
    model = np.array([0.0, math.log(3)], dtype=np.float32)
    c = compare_rows(base, model, token=1)
    assert c.kld == pytest.approx(0.5 * math.log(4 / 3), rel=1e-6)
    assert c.delta_p == pytest.approx(0.75 - 0.5, rel=1e-6)
    assert c.nll == pytest.approx(-math.log(0.75), rel=1e-6)
    assert c.nll_base == pytest.approx(math.log(2), rel=1e-6)
    assert c.same_top is False  # a tie in P goes to the first id, as in llama.cpp


def test_identical_rows_diverge_by_nothing_and_masked_tokens_add_nothing():
    row = np.array([1.0, 3.0, -2.0], dtype=np.float32)
    same = compare_rows(row, row.copy(), token=0)
    assert same.kld == 0.0 and same.delta_p == 0.0 and same.same_top
    # P = (0, 1) with a -inf logit; Q = (½, ½): KLD = 1 · ln(1 / ½), no nan from 0 · -inf
    masked = compare_rows(np.array([-np.inf, 0.0]), np.array([0.0, 0.0]), token=1)
    assert masked.kld == pytest.approx(math.log(2))


def test_uncertainty_and_percentiles_follow_llama_perplexity():
    values = [float(v) for v in range(1, 12)]  # mean 6, population variance (11² - 1)/12 = 10
    assert mean_and_uncertainty(values) == pytest.approx((6.0, math.sqrt(10 / 10)))
    assert mean_and_uncertainty(values[:10])[1] == 0.0  # ten or fewer: no uncertainty
    ordered = [0.0, 10.0, 20.0, 30.0, 40.0]
    assert percentile(ordered, 0.9) == pytest.approx(36.0)  # position 3.6
    assert percentile(ordered, 0.9) == pytest.approx(np.percentile(ordered, 90))
    assert percentile(ordered, 0.0) == 0.0 and percentile(ordered, 1.0) == 40.0


def test_summary_hand_worked():
    """Twelve positions: six where the model agrees (KLD 0, Δp 0) and six with KLD 0.2 and
    Δp -0.1 where it ranks another token first."""
    tally = KldTally()
    for i in range(12):
        agrees = i % 2 == 0
        tally.add(
            PositionComparison(
                kld=0.0 if agrees else 0.2,
                delta_p=0.0 if agrees else -0.1,
                same_top=agrees,
                nll=1.0 + (0.0 if agrees else 0.5),
                nll_base=1.0,
            )
        )
    r = summarise(tally, seconds=1.0, **NAMES)
    assert r.positions == 12
    assert r.mean_kld == pytest.approx(0.1)
    # mean(x²) - mean² = 0.02 - 0.01 = 0.01; sqrt(0.01 / 11)
    assert r.mean_kld_uncertainty == pytest.approx(math.sqrt(0.01 / 11))
    assert r.same_top == 0.5
    assert r.same_top_uncertainty == pytest.approx(math.sqrt(0.25 / 11))
    assert r.mean_delta_p == pytest.approx(-0.05)
    assert r.rms_delta_p == pytest.approx(math.sqrt(0.005))
    assert r.ppl_base == pytest.approx(math.e)
    assert r.ppl == pytest.approx(math.exp(1.25))
    assert r.ppl_ratio == pytest.approx(math.exp(0.25))
    assert r.kld.maximum == 0.2 and r.kld.minimum == 0.0 and r.kld.at(0.5) == pytest.approx(0.1)
    assert r.ppl_correlation == 0.0  # the base's nll never varies


def logits_for(seed_offset):
    """A decoder whose row at a position depends on every token up to it, like a real model."""

    def row(prefix):
        rng = np.random.default_rng([seed_offset, *prefix])
        return rng.normal(size=16).astype(np.float32)

    calls = []

    def decode(tokens, first_position, wants):
        calls.append((first_position, len(tokens)))
        decode.prefix = decode.prefix[:first_position] + list(tokens)
        return [row(decode.prefix[: first_position + i + 1]) for i, w in enumerate(wants) if w]

    decode.prefix = []
    decode.calls = calls
    return decode, row


def test_corpus_comparison_scores_the_second_half_of_each_chunk_in_step():
    tokens = [int(t) for t in np.random.default_rng(3).integers(0, 16, size=40)]
    base_decode, base_row = logits_for(1)
    decode, model_row = logits_for(2)
    clears = []
    # chunks of 16 (two, 8 tokens left over); at most 3 rows per decode forces several batches
    tally, n_chunks = corpus_kld(
        tokens, 16, None, base_decode, decode, lambda: clears.append(1), 16, 3
    )
    assert n_chunks == 2 and len(clears) == 2
    assert len(tally.positions) == 2 * (16 - 1 - 8)
    expected = [
        compare_rows(
            base_row(tokens[c : c + p + 1]), model_row(tokens[c : c + p + 1]), tokens[c + p + 1]
        )
        for c in (0, 16)
        for p in range(8, 15)
    ]
    assert tally.positions == expected
    assert base_decode.calls == decode.calls  # both models decode the same batches


def test_a_model_against_itself_diverges_by_nothing():
    tokens = [int(t) for t in np.random.default_rng(4).integers(0, 16, size=48)]
    a, _ = logits_for(7)
    b, _ = logits_for(7)
    tally, _ = corpus_kld(tokens, 16, 0, a, b, lambda: None, 16, 16)
    r = summarise(tally, seconds=0.0, **{**NAMES, "chunks": 3})
    assert r.mean_kld == 0.0 and r.same_top == 1.0 and r.rms_delta_p == 0.0
    assert r.ppl == r.ppl_base and r.ppl_ratio == 1.0
    assert r.ppl_correlation == pytest.approx(1.0)
