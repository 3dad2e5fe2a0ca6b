"""The llama-cpp-python backend: one GGUF model loaded in this process.

Every call returns a Generation record with the text and the measurements that cost
analysis needs: tokens evaluated versus reused from the KV cache, time to first token,
decode speed and peak memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import psutil

from core.engine import llama_kld, llama_measure
from core.engine.backend import OnToken
from core.engine.choices import score_choices
from core.engine.footprint import peak_rss_mb
from core.engine.llama_logs import (
    LOAD_NOTES,
    adapter_applied,
    adapter_failure,
    filtered_llama_logs,
)
from core.engine.llama_scoring import CanonicalScorer
from core.engine.prompts import FALLBACK_STOP, check_messages, check_prompt, fallback_chat_prompt
from core.engine.registry import read_metadata
from core.errors import GenerationFailed, InvalidRequest, PromptTooLong, UnusableModel
from core.types import (
    ChoiceScores,
    CorpusPerplexity,
    Generation,
    ModelInfo,
    SamplerSettings,
    TextScore,
)
from core.types.token_level import KlDivergence


def llama_cpp_version() -> str:
    import llama_cpp

    return f"llama-cpp-python {llama_cpp.__version__}"


# One lock for every GGUF model in this process, not one per model: a Llama is not
# thread-safe, and two models decoding at once would share this machine's cores and slow each
# other, spoiling the speeds we store (a concurrent run's endpoint units may call a local judge
# while the local lane runs another local model). Re-entrant, since a KL comparison holds the
# locks of two backends (core/engine/llama_kld.py).
_THIS_MACHINE = threading.RLock()


def hold_models_for_exit() -> bool:
    """Take the lock every GGUF model computes under and keep it, so that no thread starts a
    model call while the exiting process unloads its libraries (ggml's own teardown under a
    running computation crashes the process). False when a call is under way on another
    thread: the caller must then end the process without that teardown."""
    return _THIS_MACHINE.acquire(blocking=False)


class LlamaBackend:
    """One loaded GGUF model. Calls are serialised by a lock shared by every local model."""

    def __init__(self, info: ModelInfo, n_ctx: int = 4096, threads: int = 2, seed: int = 42):
        if not info.usable:
            raise UnusableModel(str(info.path), info.reason or "unknown reason")
        from llama_cpp import Llama

        self.info = info
        self.lock = _THIS_MACHINE
        self.version = llama_cpp_version()
        context = min(n_ctx, info.context_length or n_ctx)
        self._rss_before_load = psutil.Process().memory_info().rss
        try:
            with filtered_llama_logs(drop=LOAD_NOTES) as errors:
                # With an adapter llama-cpp-python reads the weights instead of mapping them,
                # so they count in the memory measured below either way (paged in or read).
                self.llm = Llama(
                    model_path=str(info.path),
                    lora_path=str(info.adapter_path) if info.adapter_path else None,
                    n_ctx=context,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=seed,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            # Re-read through the metadata path to get llama.cpp's specific reason.
            try:
                read_metadata(info.path)
                reason = str(exc)
            except ValueError as meta_exc:
                reason = str(meta_exc)
            raise UnusableModel(str(info.path), reason) from exc
        if info.adapter_path and not adapter_applied(self.llm):
            self.llm.close()
            reason = f"cannot apply it to {info.base_name or info.path.name}: "
            raise UnusableModel(str(info.adapter_path), reason + adapter_failure(errors))
        self.n_ctx = self.llm.n_ctx()
        self.memory_mb = self._measure_footprint()
        self._formatter = self._chat_formatter()
        self._grammars: dict[str, object] = {}
        self._eog: np.ndarray | None = None
        self._scorer = CanonicalScorer(self.llm)
        self._instrument()

    def _measure_footprint(self) -> float:
        """Resident memory this model added, measured right after loading and evaluating one
        token (which pages in every layer's weights), so models loaded later or alongside do
        not count towards it."""
        token = self.llm.token_bos() if self.llm.token_bos() != -1 else self.llm.token_eos()
        self.llm.eval([token])
        grown = psutil.Process().memory_info().rss - self._rss_before_load
        self.llm.reset()
        return max(0.0, grown / 2**20)

    def _chat_formatter(self):
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def token_text(token_id: int) -> str:
            return self.llm._model.token_get_text(token_id) if token_id != -1 else ""

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text(self.llm.token_eos()),
            bos_token=token_text(self.llm.token_bos()),
        )

    def _instrument(self) -> None:
        """Observe eval/sample calls: how much of each prompt was evaluated, when tokens came."""
        self._evaluated: list[int] = []
        self._sampled: list[tuple[float, int]] = []
        original_eval, original_sample = self.llm.eval, self.llm.sample

        def eval_counting(tokens):
            self._evaluated.append(len(tokens))
            return original_eval(tokens)

        def sample_timed(*args, **kwargs):
            token = original_sample(*args, **kwargs)
            self._sampled.append((time.perf_counter(), token))
            return token

        self.llm.eval = eval_counting
        self.llm.sample = sample_timed

    @property
    def prompt_format(self) -> str:
        return "chat_template" if self._formatter else "fallback"

    def close(self) -> None:
        with self.lock:
            self.llm.close()

    def _grammar(self, text: str):
        """A checked LlamaGrammar. llama-cpp-python defers parsing to sampling time, where a
        bad grammar becomes a NULL sampler and crashes the process, so we parse it here first."""
        if text not in self._grammars:
            import llama_cpp
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_string(text, verbose=False)
            with self.lock:
                probe = llama_cpp.llama_sampler_init_grammar(
                    self.llm._model.vocab, text.encode("utf-8"), grammar._root.encode("utf-8")
                )
            if not probe:
                raise InvalidRequest("The grammar does not parse (GBNF with a `root` rule).")
            llama_cpp.llama_sampler_free(probe)
            self._grammars[text] = grammar
        return self._grammars[text]

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=special)

    def chat(
        self, messages: list[dict[str, str]], settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        tokens, stop = self._chat_tokens(messages)
        stop = tuple(settings.stop) + stop
        # A copy: callers keep appending to their conversation, and the record must keep
        # the prompt this answer was generated from.
        recorded = [dict(m) for m in messages]
        return self._generate(tokens, recorded, settings, stop, on_token, self.prompt_format)

    def _chat_tokens(self, messages: list[dict[str, str]]) -> tuple[list[int], tuple[str, ...]]:
        """The prompt tokens of a conversation, ready for the assistant's turn, and the stop
        strings its format needs."""
        _, tokens, stop = self.chat_prompt(messages)
        return tokens, stop

    def chat_prompt(self, messages: list[dict[str, str]]) -> tuple[str, list[int], tuple[str, ...]]:
        """A conversation as the model sees it before the assistant's turn: the formatted
        text, its tokens (the template's special tokens as such) and the stop strings."""
        check_messages(messages)
        if self._formatter is None:
            text = fallback_chat_prompt(messages)
            return text, self.tokenize(text), FALLBACK_STOP
        formatted = self._formatter(messages=messages)
        tokens = self.llm.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return formatted.prompt, tokens, tuple(formatted.stop or ())

    def score_choices(
        self, messages: list[dict[str, str]], prefix: str, choices: Sequence[str]
    ) -> ChoiceScores:
        """The assistant's reply `prefix + choice`: P(each choice) under the grammar's mask
        and the greedy choice, both on the model's own tokens (see core/engine/choices.py)."""
        context, _ = self._chat_tokens(messages)
        paths = {
            c: self.llm.tokenize((prefix + c).encode("utf-8"), add_bos=False, special=False)
            for c in choices
        }
        if len(context) + max(len(p) for p in paths.values()) >= self.n_ctx:
            raise PromptTooLong(len(context), self.n_ctx)
        with self.lock:
            try:
                return score_choices(
                    context, paths, self._scorer.next_log_probs, self._end_tokens()
                )
            except (RuntimeError, ValueError) as exc:
                raise GenerationFailed(f"{self.info.name} failed while scoring: {exc}") from exc

    def score_text(self, context: str, continuation: str, top_k: int = 5) -> TextScore:
        """Teacher-forced scores of `continuation` after `context` (see llama_measure)."""
        return llama_measure.score_text(self, context, continuation, top_k)

    def score_reply(self, messages: list[dict[str, str]], reply: str, top_k: int = 5) -> TextScore:
        """Teacher-forced scores of `reply` as the assistant's answer to `messages`, after
        exactly the prompt chat() would give the model (see llama_measure.score_reply)."""
        return llama_measure.score_reply(self, messages, reply, top_k)

    def corpus_perplexity(self, text: str, n_ctx: int = 512, on_chunk=None) -> CorpusPerplexity:
        """The text's perplexity by llama-perplexity's method (core/engine/perplexity.py)."""
        return llama_measure.corpus_perplexity(self, text, n_ctx, on_chunk)

    def kl_divergence(self, base, text: str, n_ctx: int = 512, on_chunk=None) -> KlDivergence:
        """This model's KL divergence from `base` (another LlamaBackend) over `text`."""
        return llama_kld.kl_divergence(base, self, text, n_ctx, on_chunk)

    def _clear_kv(self) -> None:
        llama_measure.clear_kv(self.llm)

    def reset_cache(self) -> None:
        """Forget every evaluated token, so the next prompt is evaluated in full (as a speed
        measurement needs) rather than reused from the KV cache."""
        with self.lock:
            self._scorer.forget()
            llama_measure.clear_kv(self.llm)

    def _end_tokens(self) -> np.ndarray:
        if self._eog is None:
            import llama_cpp

            vocab = self.llm._model.vocab
            self._eog = np.array(
                [t for t in range(self.llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)]
            )
        return self._eog

    def complete(
        self, prompt: str, settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        check_prompt(prompt)
        return self._generate(
            self.tokenize(prompt), prompt, settings, tuple(settings.stop), on_token, "completion"
        )

    def _generate(self, tokens, recorded_prompt, settings, stop, on_token, prompt_format):
        if len(tokens) >= self.n_ctx:
            raise PromptTooLong(len(tokens), self.n_ctx)
        grammar = self._grammar(settings.grammar) if settings.grammar else None
        max_tokens = min(settings.max_tokens, self.n_ctx - len(tokens))
        parts: list[str] = []
        finish = "length"
        with self.lock:
            self._scorer.forget()  # the generation below rewrites the KV cache
            self._evaluated.clear()
            self._sampled.clear()
            start = time.perf_counter()
            first_text_at = None
            try:
                # Streaming costs llama-cpp-python extra detokenisation per token, so it is
                # used only when someone is listening.
                result = self.llm.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    repeat_penalty=settings.repeat_penalty,
                    seed=settings.seed,
                    stop=list(dict.fromkeys(stop)),
                    grammar=grammar,
                    stream=on_token is not None,
                )
                chunks = result if on_token is not None else [result]
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        if first_text_at is None and on_token is not None:
                            first_text_at = time.perf_counter()
                        parts.append(choice["text"])
                        if on_token:
                            on_token(choice["text"])
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            except (RuntimeError, ValueError) as exc:
                raise GenerationFailed(f"{self.info.name} failed while generating: {exc}") from exc
            end = time.perf_counter()
            evaluated = self._evaluated[0] if self._evaluated else 0
            sampled = list(self._sampled)
        produced, decode_tps = self._decode_stats(sampled)
        first_token_at = sampled[0][0] if sampled else end
        return Generation(
            text="".join(parts),
            finish_reason=finish,
            prompt=recorded_prompt,
            prompt_tokens=len(tokens),
            prompt_tokens_evaluated=evaluated,
            completion_tokens=produced,
            ttft_s=(first_text_at or first_token_at) - start,
            total_s=end - start,
            gen_tokens_per_s=decode_tps,
            peak_rss_mb=peak_rss_mb(),
            settings=settings,
            model_name=self.info.name,
            model_sha256=self.info.sha256 or "",
            llama_cpp_version=self.version,
            prompt_format=prompt_format,
            model_memory_mb=self.memory_mb,
        )

    def _decode_stats(self, sampled: list[tuple[float, int]]) -> tuple[int, float | None]:
        """Completion tokens (end-of-generation tokens excluded) and decode tokens/s: tokens
        after the first over the time from first to last sample, so prompt evaluation does
        not dilute it."""
        import llama_cpp

        vocab = self.llm._model.vocab
        produced = sum(1 for _, tok in sampled if not llama_cpp.llama_vocab_is_eog(vocab, tok))
        if len(sampled) >= 2 and sampled[-1][0] > sampled[0][0]:
            return produced, (len(sampled) - 1) / (sampled[-1][0] - sampled[0][0])
        return produced, None
