"""The evaluation order behind judge probabilities: fixed chunks, then the tail, then the last
token alone, so a sequence is computed the same way whatever ran before it."""

import numpy as np

from core.engine.llama_scoring import CHUNK, CanonicalScorer


class _Context:
    def __init__(self, llm):
        self.llm = llm

    def kv_cache_seq_rm(self, seq, start, end):
        self.llm.removed.append(start)
        return self.llm.can_trim


class _RecordingLlama:
    """Stands in for a Llama: records every batch it is asked to evaluate."""

    def __init__(self, can_trim=True):
        self.can_trim = can_trim
        self.n_tokens = 0
        self.batches: list[tuple[int, int]] = []  # (first position, length)
        self.removed: list[int] = []
        self.resets = 0
        self._ctx = _Context(self)

    def eval(self, tokens):
        self.batches.append((self.n_tokens, len(tokens)))
        self.n_tokens += len(tokens)

    def reset(self):
        self.resets += 1
        self.n_tokens = 0


class _Scorer(CanonicalScorer):
    def _last_logits(self):
        return np.zeros(4)


def test_a_sequence_is_evaluated_in_fixed_chunks_then_its_tail_then_its_last_token():
    llm = _RecordingLlama()
    scorer = _Scorer(llm)
    tokens = list(range(150))  # 149 before the last: chunks at 0 and 64, a tail of 21
    assert np.allclose(np.exp(scorer.next_log_probs(tokens)), 0.25)
    assert llm.batches == [(0, CHUNK), (CHUNK, CHUNK), (128, 21), (149, 1)]
    # A sequence sharing 140 tokens reuses the two full chunks only: position 128 onwards
    # is computed exactly as a fresh model would compute it.
    llm.batches.clear()
    scorer.next_log_probs([*tokens[:140], 999, 998])
    assert llm.removed[-1] == 128
    assert llm.batches == [(128, 13), (141, 1)]
    # After a generation (forget), nothing is reused.
    scorer.forget()
    llm.batches.clear()
    scorer.next_log_probs(tokens)
    assert llm.batches[0] == (0, CHUNK) and llm.removed[-1] == 0


def test_a_model_that_cannot_drop_part_of_its_state_starts_afresh():
    llm = _RecordingLlama(can_trim=False)
    scorer = _Scorer(llm)
    scorer.next_log_probs(list(range(70)))
    scorer.next_log_probs(list(range(70)))
    assert llm.resets == 2 and llm.batches[-3:] == [(0, CHUNK), (64, 5), (69, 1)]
