"""Next-token log-probabilities from a loaded Llama that do not depend on what it ran before.

llama.cpp's CPU kernels differ with the batch size, so the same tokens give slightly different
logits when the last one is evaluated inside a batch or on its own, and KV entries written
one token at a time (while generating) differ from entries written in a batch. How much it
matters: on 72 judge ratings from a benchmark run (SmolLM2 judging), the two ways of
evaluating the last token gave expected ratings up to 0.28 apart (mean 0.05). Reusing
whatever the KV cache holds would let a judgment depend on what the model did before it, for
instance on whether a run was resumed. So every sequence is evaluated the same way: full
chunks of CHUNK tokens at fixed positions (0, CHUNK, 2·CHUNK, …), then the rest of the context
as one batch, then the last token alone. Only full chunks are kept for reuse, and nothing a
generation wrote; the tail is recomputed each time, at most CHUNK tokens."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.engine.choices import log_softmax

CHUNK = 64


class CanonicalScorer:
    """Owns the reuse bookkeeping for one Llama. Call with the model's lock held, and call
    `forget()` whenever anything else (a generation) has changed the KV cache."""

    def __init__(self, llm):
        self.llm = llm
        self._chunked: list[int] = []  # tokens whose KV came from full, aligned chunks

    def forget(self) -> None:
        self._chunked = []

    def _reusable(self, tokens: Sequence[int]) -> int:
        shared = 0
        for a, b in zip(self._chunked, tokens[:-1], strict=False):
            if a != b:
                break
            shared += 1
        return shared - shared % CHUNK

    def next_log_probs(self, tokens: Sequence[int]) -> np.ndarray:
        llm = self.llm
        reuse = self._reusable(tokens)
        if not llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            # Recurrent and hybrid models cannot drop part of their state: start afresh
            # rather than decode on top of tokens that should no longer be there.
            llm.reset()
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            reuse = 0
        llm.n_tokens = reuse
        body_end = len(tokens) - 1
        full_end = body_end - body_end % CHUNK
        for start in range(reuse, full_end, CHUNK):
            llm.eval(list(tokens[start : start + CHUNK]))
        self._chunked = list(tokens[:full_end])
        if body_end > full_end:  # reuse never passes full_end: it is a whole number of chunks
            llm.eval(list(tokens[full_end:body_end]))
        llm.eval([tokens[-1]])
        return log_softmax(self._last_logits())

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),))
