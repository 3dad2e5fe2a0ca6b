"""Text embeddings from a GGUF model: the mean of its last hidden states over a text's tokens,
L2-normalised, one float32 row per text in input order.

Each text is decoded on its own. llama.cpp can decode several texts in one batch, 13 %
(SmolLM2) to 26 % (Gemma 3 270M) faster on bill titles here, but a text's vector then depends
on its neighbours in the batch (elements off by up to 4e-3 and 9e-3: the attention sums run
in another order), and a text that straddles two physical batches is pooled wrongly (cosine
0.997). A probe must give a text the same label whichever texts it was embedded with, so
every text gets its own decode, and the context's physical batch is the whole context, so no
text is ever split (docs/learning.md).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from core.config import Settings
from core.engine.llama_logs import (
    LOAD_NOTES,
    POOLING_NOTE,
    adapter_applied,
    adapter_failure,
    filtered_llama_logs,
)
from core.engine.registry import current_file, require_local_file
from core.errors import InvalidRequest, UnusableModel
from core.types import ModelInfo

OnProgress = Callable[[int, int, float | None], None] | None  # done, total, eta seconds
FAKE_DIM = 32


class Embedder(Protocol):
    info: ModelInfo
    dim: int

    def tokens(self, text: str) -> int: ...

    def embed(
        self, texts: Sequence[str], on_progress: OnProgress = None, names: Sequence[str] = ()
    ) -> np.ndarray: ...

    def close(self) -> None: ...


def _text_name(i: int, names: Sequence[str], total: int) -> str:
    return f"text {names[i]!r}" if i < len(names) else f"text {i + 1} of {total}"


def _check_not_empty(texts: Sequence[str], names: Sequence[str]) -> None:
    for i, text in enumerate(texts):
        if not str(text).strip():
            raise InvalidRequest(
                f"The {_text_name(i, names, len(texts))} is empty; there is nothing to embed."
            )


def _normalised(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def _report(on_progress: OnProgress, done: int, total: int, started: float) -> None:
    if on_progress:
        eta = (time.monotonic() - started) / done * (total - done) if done else None
        on_progress(done, total, eta)


class LlamaEmbedder:
    """One GGUF model loaded in embedding mode (mean pooling). A Llama is not thread-safe, so
    each text's decode holds the lock."""

    def __init__(self, info: ModelInfo, n_ctx: int = 4096, threads: int = 2):
        if not info.usable:
            raise UnusableModel(str(info.path), info.reason or "unknown reason")
        import llama_cpp
        from llama_cpp import Llama

        self.info = info
        self.lock = threading.Lock()
        context = min(n_ctx, info.context_length or n_ctx)
        try:
            with filtered_llama_logs(drop=(POOLING_NOTE, *LOAD_NOTES)) as errors:
                self.llm = Llama(
                    model_path=str(info.path),
                    lora_path=str(info.adapter_path) if info.adapter_path else None,
                    embedding=True,
                    pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                    n_ctx=context,
                    # One physical batch holds the whole context: a text split across two would
                    # be pooled per piece.
                    n_batch=context,
                    n_ubatch=context,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise UnusableModel(str(info.path), f"cannot load it for embeddings: {exc}") from exc
        if info.adapter_path and not adapter_applied(self.llm):
            self.llm.close()
            reason = f"cannot apply it to {info.base_name or info.path.name}: "
            raise UnusableModel(str(info.adapter_path), reason + adapter_failure(errors))
        self.n_ctx = self.llm.n_ctx()
        self.dim = self.llm.n_embd()

    def tokens(self, text: str) -> int:
        with self.lock:
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def embed(
        self, texts: Sequence[str], on_progress: OnProgress = None, names: Sequence[str] = ()
    ) -> np.ndarray:
        """One L2-normalised float32 row per text, in input order. Every text is checked
        before any is embedded: an empty text, or one longer than the context, is refused."""
        texts = [str(t) for t in texts]
        _check_not_empty(texts, names)
        for i, text in enumerate(texts):
            count = self.tokens(text)
            if count > self.n_ctx:
                raise InvalidRequest(
                    f"The {_text_name(i, names, len(texts))} is {count} tokens, longer than "
                    f"the {self.n_ctx} tokens {self.info.name} embeds at once; shorten it or "
                    "raise the context (PERFICS_N_CTX)."
                )
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        started = time.monotonic()
        _report(on_progress, 0, len(texts), started)
        for i, text in enumerate(texts):
            with self.lock:
                rows[i] = self.llm.embed(text, normalize=False, truncate=False)
            _report(on_progress, i + 1, len(texts), started)
        return _normalised(rows)

    def close(self) -> None:
        with self.lock:
            self.llm.close()


class FakeEmbedder:
    """Deterministic embeddings for logic tests (PERFICS_BACKEND=fake): each word is a fixed
    pseudo-random vector drawn from its hash, and a text is the normalised sum of its words,
    so texts that share words lie close together and a probe can learn from them."""

    def __init__(self, info: ModelInfo, dim: int = FAKE_DIM, n_ctx: int = 512):
        self.info = info
        self.dim = dim
        self.n_ctx = n_ctx
        self.lock = threading.Lock()
        self.calls = 0  # texts embedded, so tests can see what was (not) re-embedded

    def tokens(self, text: str) -> int:
        return len(text.split())

    def word_vector(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def embed(
        self, texts: Sequence[str], on_progress: OnProgress = None, names: Sequence[str] = ()
    ) -> np.ndarray:
        texts = [str(t) for t in texts]
        _check_not_empty(texts, names)
        for i, text in enumerate(texts):
            if self.tokens(text) > self.n_ctx:
                raise InvalidRequest(
                    f"The {_text_name(i, names, len(texts))} is {self.tokens(text)} tokens, "
                    f"longer than the {self.n_ctx} tokens {self.info.name} embeds at once."
                )
        rows = np.zeros((len(texts), self.dim))
        started = time.monotonic()
        _report(on_progress, 0, len(texts), started)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                rows[i] += self.word_vector(word)
            with self.lock:
                self.calls += 1
            _report(on_progress, i + 1, len(texts), started)
        return _normalised(rows)

    def close(self) -> None:
        pass


def open_embedder(info: ModelInfo, cfg: Settings) -> Embedder:
    """The model in embedding mode: the fake embedder when PERFICS_BACKEND=fake, as
    core/engine/loader.py picks the fake backend."""
    require_local_file(info, "embedding texts")
    if cfg.backend == "fake":
        return FakeEmbedder(info)
    return LlamaEmbedder(current_file(info, cfg.cache_dir), n_ctx=cfg.n_ctx, threads=cfg.threads)
