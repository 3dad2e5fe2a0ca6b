"""llama.cpp's batch API for teacher-forced scoring: logits only at the positions asked for.

Llama.eval keeps at most the last row (or, with logits_all, n_ctx × n_vocab floats: 1 MiB per
token for Gemma), so scoring a text decodes its own llama_batch with per-position output
flags. Call with the model's lock held and on an empty KV cache (sequence 0 from position 0).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence

import numpy as np


class BatchDecoder:
    """A reusable llama_batch of up to `capacity` tokens for one Llama; close() frees it."""

    def __init__(self, llm, capacity: int):
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llm = llm
        self.capacity = capacity
        self.n_vocab = llm.n_vocab()
        self._batch = llama_cpp.llama_batch_init(capacity, 0, 1)

    def __call__(
        self, tokens: Sequence[int], first_position: int, wants_row: Sequence[bool]
    ) -> Iterator[np.ndarray]:
        """Decodes now; the returned rows are views into llama.cpp's buffer, valid until the
        next decode."""
        if len(tokens) > self.capacity or len(wants_row) != len(tokens):
            raise ValueError(f"a batch holds {self.capacity} tokens with one flag each")
        batch = self._batch
        batch.n_tokens = len(tokens)
        for i, (token, wanted) in enumerate(zip(tokens, wants_row, strict=True)):
            batch.token[i] = token
            batch.pos[i] = first_position + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = wanted
        status = self._llama_cpp.llama_decode(self.llm._ctx.ctx, batch)
        if status != 0:
            # 1: no room in the KV cache; negative: an error inside llama.cpp.
            raise RuntimeError(f"llama_decode returned {status}")
        return self._rows(wants_row)

    def _rows(self, wants_row: Sequence[bool]) -> Iterator[np.ndarray]:
        ctx = self.llm._ctx.ctx
        for i, wanted in enumerate(wants_row):
            if wanted:
                pointer = self._llama_cpp.llama_get_logits_ith(ctx, i)
                yield np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def close(self) -> None:
        if self._batch is not None:
            self._llama_cpp.llama_batch_free(self._batch)
            self._batch = None


def token_piece(llm, token_id: int) -> str:
    """A token's text, special tokens spelled out (e.g. "<end_of_turn>"). Bytes that are only
    part of a UTF-8 character (byte-level BPE splits some) show as U+FFFD. Llama.detokenize is
    not used: its 32-byte buffer silently truncates longer pieces."""
    import llama_cpp

    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(llm._model.vocab, token_id, buffer, size, 0, True)
        if n >= 0:
            return buffer.raw[:n].decode("utf-8", errors="replace")
        size = -n  # too small: llama.cpp says how many bytes it needs
