"""KL divergence between two loaded LlamaBackends that share a vocabulary (a model and its
quantizations), by llama-perplexity's chunk method; the statistics are in core/engine/kld.py."""

from __future__ import annotations

import time
from contextlib import ExitStack

from core.engine.kld import corpus_kld, summarise
from core.engine.llama_batch import BatchDecoder
from core.engine.llama_measure import bos_token, check_corpus, clear_kv, output_rows, text_tokens
from core.errors import GenerationFailed, InvalidRequest
from core.types.token_level import KlDivergence


def vocabulary_difference(base_llm, llm) -> str | None:
    """Why two models' vocabularies differ, or None when every token id spells the same."""
    import llama_cpp

    if base_llm.n_vocab() != llm.n_vocab():
        return f"{base_llm.n_vocab():,} tokens against {llm.n_vocab():,}"
    base_vocab, vocab = base_llm._model.vocab, llm._model.vocab
    for token in range(llm.n_vocab()):
        a = llama_cpp.llama_vocab_get_text(base_vocab, token)
        b = llama_cpp.llama_vocab_get_text(vocab, token)
        if a != b:
            return f"token {token} is {a!r} in one and {b!r} in the other"
    if bos_token(base_llm) != bos_token(llm):
        return "one starts a text with BOS and the other does not"
    return None


def kl_divergence(base, model, text: str, n_ctx: int = 512, on_chunk=None) -> KlDivergence:
    """`model`'s KL divergence from `base` over `text` (see core/engine/kld.py)."""
    if base is model:
        raise InvalidRequest("Give two different models: a model compared with itself is 0.")
    difference = vocabulary_difference(base.llm, model.llm)
    if difference:
        raise InvalidRequest(
            f"{base.info.name} and {model.info.name} do not share a vocabulary ({difference}); "
            "KL divergence compares a model with its own quantizations."
        )
    start = time.perf_counter()
    tokens = text_tokens(base.llm, text)
    for backend in (base, model):
        check_corpus(backend, tokens, n_ctx)
    max_outputs = min(output_rows(base.llm, n_ctx), output_rows(model.llm, n_ctx))

    def clear() -> None:
        clear_kv(base.llm)
        clear_kv(model.llm)

    with ExitStack() as held:
        # Both locks, always in the same order, so two comparisons cannot deadlock.
        for backend in sorted((base, model), key=id):
            held.enter_context(backend.lock)
            backend._scorer.forget()  # the batches below overwrite its KV cache
            decoder = BatchDecoder(backend.llm, n_ctx)
            held.callback(decoder.close)
            if backend is base:
                base_decode = decoder
            else:
                decode = decoder
        held.callback(clear)
        try:
            tally, n_chunks = corpus_kld(
                tokens,
                n_ctx,
                bos_token(base.llm),
                base_decode,
                decode,
                clear,
                n_ctx,
                max_outputs,
                on_chunk,
            )
        except (RuntimeError, ValueError) as exc:
            raise GenerationFailed(f"Comparing {model.info.name} failed: {exc}") from exc
    return summarise(
        tally,
        base_name=base.info.name,
        model_name=model.info.name,
        n_ctx=n_ctx,
        text_tokens=len(tokens),
        chunks=n_chunks,
        seconds=time.perf_counter() - start,
    )
