"""Teacher-forced scoring without a model: the row reduction on a hand-worked 4-token
vocabulary, the totals, the position bookkeeping across batches, the fake backend and the CLI."""

import json
import math

import numpy as np
import pytest

from core.app.cli import main
from core.engine.fake import FakeBackend
from core.engine.token_scoring import (
    RowWork,
    plan_batches,
    reduce_row,
    row_logprob,
    teacher_forced,
    teacher_forced_logprobs,
    top_k_ids,
)
from core.errors import InvalidRequest, PromptTooLong
from core.types import TextScore, TokenScore

# softmax of ln([4, 2, 1, 1]) is [1/2, 1/4, 1/8, 1/8].
HALVES = np.log(np.array([4.0, 2.0, 1.0, 1.0], dtype=np.float32))


def test_logprob_rank_entropy_and_top_k_by_hand():
    row = reduce_row(HALVES, token_id=1, top_k=3)
    assert row.logprob == pytest.approx(math.log(1 / 4))
    assert row.rank == 2
    # H = 1/2·ln 2 + 1/4·ln 4 + 2·1/8·ln 8 = 1.75 bits = 1.75·ln 2 nats
    assert row.entropy == pytest.approx(1.75 * math.log(2))
    # tokens 2 and 3 tie at 1/8: the lower id is listed first and 3 falls off the top 3
    assert row.top_ids == (0, 1, 2)
    assert row.top_logprobs == pytest.approx((math.log(1 / 2), math.log(1 / 4), math.log(1 / 8)))


def test_tied_tokens_share_the_best_rank():
    assert reduce_row(HALVES, 2, 0).rank == 3
    assert reduce_row(HALVES, 3, 0).rank == 3  # not 4: only two tokens are likelier
    assert reduce_row(HALVES, 0, 0).rank == 1
    flat = reduce_row(np.zeros(4, dtype=np.float32), 3, top_k=2)
    assert (flat.rank, flat.top_ids) == (1, (0, 1))
    assert flat.entropy == pytest.approx(math.log(4))


def test_masked_tokens_give_zero_probability_not_nan():
    logits = np.array([0.0, -np.inf, 0.0, -np.inf], dtype=np.float32)
    row = reduce_row(logits, 1, top_k=4)
    assert row.logprob == -math.inf and row.rank == 3
    assert row.entropy == pytest.approx(math.log(2))
    assert row.top_ids == (0, 2, 1, 3)


def test_top_k_edge_cases():
    assert list(top_k_ids(HALVES, 0)) == []
    assert list(top_k_ids(HALVES, 10)) == [0, 1, 2, 3]
    assert reduce_row(HALVES, 0, top_k=1).top_ids == (0,)
    with pytest.raises(ValueError):
        reduce_row(HALVES, 4, top_k=1)


def test_logprob_alone_by_hand_and_equal_to_the_full_reduction():
    assert row_logprob(HALVES, 0) == pytest.approx(math.log(1 / 2))
    assert row_logprob(HALVES, 3) == pytest.approx(math.log(1 / 8))
    masked = np.array([0.0, -np.inf, 0.0, -np.inf], dtype=np.float32)
    assert row_logprob(masked, 2) == pytest.approx(math.log(1 / 2))
    assert row_logprob(masked, 1) == -math.inf
    rng = np.random.default_rng(7)
    row = (3 * rng.standard_normal(1000)).astype(np.float32)
    assert row_logprob(row, 17) == reduce_row(row, 17, 0).logprob
    with pytest.raises(ValueError):
        row_logprob(HALVES, -1)


def test_reused_work_space_leaves_no_trace_of_the_previous_row():
    """The second row reduced with the same RowWork gives what a fresh one gives; a work
    space of the wrong size is not used."""
    work = RowWork(4)
    reduce_row(np.array([9.0, -np.inf, 0.0, 1.0], dtype=np.float32), 0, 2, work)
    assert reduce_row(HALVES, 2, 2, work) == reduce_row(HALVES, 2, 2)
    assert row_logprob(HALVES, 1, work) == pytest.approx(math.log(1 / 4))
    wider = np.log(np.array([1.0, 1.0, 1.0, 1.0, 4.0], dtype=np.float32))
    assert reduce_row(wider, 4, 1, work).logprob == pytest.approx(math.log(1 / 2))


def _token(logprob: float) -> TokenScore:
    return TokenScore(token_id=0, text="x", logprob=logprob, rank=1, entropy=0.0, top=())


def test_totals_cross_entropy_perplexity_and_bits_per_byte():
    # P = 1/2 · 1/4 = 1/8 over 2 tokens and 4 bytes: 3 bits in all.
    score = TextScore("m", "ctx", "abcd", 1, (_token(math.log(1 / 2)), _token(math.log(1 / 4))))
    assert score.n_tokens == 2 and score.n_bytes == 4
    assert score.total_logprob == pytest.approx(math.log(1 / 8))
    assert score.cross_entropy == pytest.approx(math.log(8) / 2)
    assert score.perplexity == pytest.approx(math.sqrt(8))
    assert score.bits_per_byte == pytest.approx(3 / 4)
    # bytes, not characters: "é" is two UTF-8 bytes
    accented = TextScore("m", "", "é!", 1, (_token(math.log(1 / 8)),))
    assert accented.n_bytes == 3 and accented.bits_per_byte == pytest.approx(1.0)


def test_batches_respect_both_limits():
    # positions 0..9, rows needed from 4 on: at most 3 tokens and 2 rows per batch
    assert plan_batches(10, 4, 3, 2) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert plan_batches(5, 0, 512, 512) == [(0, 5)]
    assert plan_batches(0, 0, 4, 4) == []


class NextPlusOne:
    """A 4-token 'model' whose row after token t puts logit 3 on (t + 1) % 4. Like llama.cpp,
    it reuses one buffer, so a row kept past the next decode would be overwritten."""

    def __init__(self):
        self.calls = []
        self.buffer = np.zeros(4, dtype=np.float32)

    def __call__(self, tokens, first_position, wants_row):
        self.calls.append((list(tokens), first_position, list(wants_row)))
        rows = []
        for token, wanted in zip(tokens, wants_row, strict=True):
            if wanted:
                rows.append((token + 1) % 4)
        for peak in rows:
            self.buffer[:] = 0.0
            self.buffer[peak] = 3.0
            yield self.buffer


@pytest.mark.parametrize(("n_batch", "max_outputs"), [(512, 512), (2, 1), (3, 2)])
def test_each_token_is_scored_from_the_row_one_position_earlier(n_batch, max_outputs):
    model = NextPlusOne()
    tokens = [0, 1, 2, 3, 0, 2]  # context [0, 1]; the model expects 2, 3, 0, then 1 (not 2)
    rows = teacher_forced(tokens, 2, model, top_k=1, n_batch=n_batch, max_outputs=max_outputs)
    hit = 3 - math.log(math.exp(3) + 3)
    miss = -math.log(math.exp(3) + 3)
    assert [r.token_id for r in rows] == [2, 3, 0, 2]
    assert [r.logprob for r in rows] == pytest.approx([hit, hit, hit, miss])
    assert [r.rank for r in rows] == [1, 1, 1, 2]
    assert [r.top_ids for r in rows] == [(2,), (3,), (0,), (1,)]
    # every position but the last evaluated once, in order; rows only from the context's last
    positions = [first + i for _, first, flags in model.calls for i in range(len(flags))]
    assert positions == [0, 1, 2, 3, 4]
    flags = [f for _, _, fs in model.calls for f in fs]
    assert flags == [False, True, True, True, True]
    assert all(len(t) <= n_batch and sum(f) <= max_outputs for t, _, f in model.calls)


@pytest.mark.parametrize(("n_batch", "max_outputs"), [(512, 512), (2, 1), (3, 2)])
def test_logprobs_alone_follow_the_same_positions(n_batch, max_outputs):
    tokens = [0, 1, 2, 3, 0, 2]
    full = teacher_forced(tokens, 2, NextPlusOne(), 1, n_batch, max_outputs)
    model = NextPlusOne()
    alone = teacher_forced_logprobs(tokens, 2, model, n_batch, max_outputs)
    hit = 3 - math.log(math.exp(3) + 3)
    assert alone == pytest.approx([hit, hit, hit, -math.log(math.exp(3) + 3)])
    assert alone == [r.logprob for r in full]
    assert [f for _, _, fs in model.calls for f in fs] == [False, True, True, True, True]
    with pytest.raises(ValueError):
        teacher_forced_logprobs([1, 2], 2, NextPlusOne(), 8, 8)


def test_teacher_forcing_needs_a_context_token_and_something_to_score():
    with pytest.raises(ValueError):
        teacher_forced([1, 2], 0, NextPlusOne(), 1, 8, 8)
    with pytest.raises(ValueError):
        teacher_forced([1, 2], 2, NextPlusOne(), 1, 8, 8)


def test_fake_backend_scores_deterministically_and_checks_requests():
    fake = FakeBackend()
    first = fake.score_text("the cat", "sat on the mat", top_k=2)
    assert first == fake.score_text("the cat", "sat on the mat", top_k=2)
    assert [t.text for t in first.tokens] == ["sat", "on", "the", "mat"]
    assert first.context_tokens == 3  # "<s>" + two words
    for t in first.tokens:
        assert len(t.top) == 2 and t.top[0].logprob >= t.top[1].logprob
        assert (t.rank == 1) == (t.token_id == t.top[0].token_id)
    with pytest.raises(InvalidRequest):
        fake.score_text("the cat", "  ")
    with pytest.raises(PromptTooLong):
        fake.score_text("word " * 600, "more")
    assert FakeBackend(probabilities=False).score_text("a", "b") is None


def test_cli_score_json_and_table(fake_mode, capsys):
    args = ["score", "--model", "fake", "--context", "the cat", "--continuation", "sat down"]
    assert main([*args, "--top-k", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["n_tokens"] == 2 and record["n_bytes"] == 8
    assert [t["text"] for t in record["tokens"]] == ["sat", "down"]
    assert all(len(t["top"]) == 3 for t in record["tokens"])
    total = sum(t["logprob"] for t in record["tokens"])
    assert record["bits_per_byte"] == pytest.approx(-total / math.log(2) / 8)
    assert record["perplexity"] == pytest.approx(math.exp(-total / 2))
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "2 tokens, 8 bytes" in table and "bits/byte" in table


def test_cli_score_rejects_an_empty_continuation(fake_mode, capsys):
    args = ["score", "--model", "fake", "--context", "x", "--continuation", ""]
    assert main(args) == 1
    assert "empty" in capsys.readouterr().err
