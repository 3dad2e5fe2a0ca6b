"""Measurements on a loaded LlamaBackend that read the model's distributions instead of
sampling from them: teacher-forced scores of a text and corpus perplexity.

They decode their own llama_batch (core/engine/llama_batch.py) with output rows only where a
score is needed, so they run with the backend's lock held and leave the KV cache empty.
"""

from __future__ import annotations

import time

from core.engine.llama_batch import BatchDecoder, token_piece
from core.engine.perplexity import corpus_nlls, running_perplexities, summarise
from core.engine.token_scoring import OUTPUT_BUDGET_BYTES, RowReduction, teacher_forced
from core.errors import GenerationFailed, InvalidRequest, PromptTooLong
from core.types import CorpusPerplexity, TextScore, TokenAlternative, TokenScore


def clear_kv(llm) -> None:
    """Empties llama.cpp's KV cache and Llama's own bookkeeping (n_tokens, input_ids), which
    knows nothing of our batches, so the next generation starts from scratch."""
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    llm.reset()


def output_rows(llm, wanted: int) -> int:
    """How many scored positions one decode may produce within OUTPUT_BUDGET_BYTES."""
    return max(1, min(wanted, OUTPUT_BUDGET_BYTES // (4 * llm.n_vocab())))


def bos_token(llm) -> int | None:
    """The BOS id when the model's GGUF asks for one at the start of a text, else None."""
    import llama_cpp

    vocab = llm._model.vocab
    return llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else None


def text_tokens(llm, text: str) -> list[int]:
    # add_bos=True lets llama.cpp add BOS only where the vocabulary says so (Gemma yes,
    # SmolLM2 no).
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)


def score_text(backend, context: str, continuation: str, top_k: int = 5) -> TextScore:
    """Teacher-forced scores of `continuation` after `context` (core/engine/token_scoring.py).
    The two are tokenised separately, BOS before the context only if the GGUF asks for it, so
    the scored tokens are the continuation's own even where a joint tokenisation would merge
    across the boundary."""
    start = time.perf_counter()
    return score_after(
        backend, context, text_tokens(backend.llm, context), continuation, top_k, start
    )


def score_reply(backend, messages: list[dict[str, str]], reply: str, top_k: int = 5) -> TextScore:
    """`reply` scored as the assistant's answer to `messages`: after the conversation as
    chat() formats and tokenises it (the chat template's special tokens as special tokens,
    BOS as the template and GGUF say), so the context is exactly what the model saw before
    it answered. The record's context is that formatted prompt text."""
    start = time.perf_counter()
    prompt, head, _ = backend.chat_prompt(messages)
    return score_after(backend, prompt, head, reply, top_k, start)


def score_after(
    backend, context: str, head: list[int], continuation: str, top_k: int, start: float
) -> TextScore:
    """`continuation`, tokenised on its own, scored after the context tokens `head`."""
    llm = backend.llm
    if not continuation:
        raise InvalidRequest("The continuation to score is empty.")
    if top_k < 0:
        raise InvalidRequest(f"top_k must be 0 or more, got {top_k}")
    tail = llm.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
    if not head:
        raise InvalidRequest(
            f"{backend.info.name} adds no BOS token, so an empty context leaves nothing to "
            "predict the first token from; give a context."
        )
    if len(head) + len(tail) > backend.n_ctx:
        raise PromptTooLong(len(head) + len(tail), backend.n_ctx)
    n_batch = llm.n_batch
    with backend.lock:
        backend._scorer.forget()  # the batches below overwrite the KV cache
        clear_kv(llm)
        decoder = BatchDecoder(llm, n_batch)
        try:
            rows = teacher_forced(
                head + tail, len(head), decoder, top_k, n_batch, output_rows(llm, n_batch)
            )
        except (RuntimeError, ValueError) as exc:
            raise GenerationFailed(f"{backend.info.name} failed while scoring: {exc}") from exc
        finally:
            decoder.close()
            clear_kv(llm)
        tokens = tuple(token_score(llm, row) for row in rows)
    return TextScore(
        model_name=backend.info.name,
        context=context,
        continuation=continuation,
        context_tokens=len(head),
        tokens=tokens,
        seconds=time.perf_counter() - start,
    )


def check_corpus(backend, tokens: list[int], n_ctx: int) -> None:
    if n_ctx < 16 or n_ctx > backend.n_ctx:
        raise InvalidRequest(f"--ctx must be between 16 and {backend.n_ctx}, got {n_ctx}")
    if len(tokens) < 2 * n_ctx:
        raise InvalidRequest(
            f"The text is {len(tokens)} tokens; a {n_ctx}-token context needs at least "
            f"{2 * n_ctx} (two chunks). Give a longer text or a smaller --ctx."
        )


def corpus_perplexity(backend, text: str, n_ctx: int = 512, on_chunk=None) -> CorpusPerplexity:
    """The text's perplexity by llama-perplexity's method (core/engine/perplexity.py)."""
    llm = backend.llm
    start = time.perf_counter()
    tokens = text_tokens(llm, text)
    check_corpus(backend, tokens, n_ctx)
    with backend.lock:
        backend._scorer.forget()  # the batches below overwrite the KV cache
        decoder = BatchDecoder(llm, n_ctx)
        try:
            # As llama-perplexity with -b n_ctx: a chunk is one batch (within the budget).
            nlls = corpus_nlls(
                tokens,
                n_ctx,
                bos_token(llm),
                decoder,
                lambda: clear_kv(llm),
                n_ctx,
                output_rows(llm, n_ctx),
                on_chunk,
            )
        except (RuntimeError, ValueError) as exc:
            raise GenerationFailed(f"{backend.info.name} failed while scoring: {exc}") from exc
        finally:
            decoder.close()
            clear_kv(llm)
    flat = [v for chunk in nlls for v in chunk]
    ppl, spread = summarise(flat)
    return CorpusPerplexity(
        model_name=backend.info.name,
        n_ctx=n_ctx,
        text_tokens=len(tokens),
        chunks=len(nlls),
        tokens_scored=len(flat),
        perplexity=ppl,
        uncertainty=spread,
        chunk_perplexities=running_perplexities(nlls),
        seconds=time.perf_counter() - start,
    )


def token_score(llm, row: RowReduction) -> TokenScore:
    top = tuple(
        TokenAlternative(token_id=i, text=token_piece(llm, i), logprob=lp)
        for i, lp in zip(row.top_ids, row.top_logprobs, strict=True)
    )
    return TokenScore(
        token_id=row.token_id,
        text=token_piece(llm, row.token_id),
        logprob=row.logprob,
        rank=row.rank,
        entropy=row.entropy,
        top=top,
    )
