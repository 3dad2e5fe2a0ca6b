"""A deterministic, instant Backend for logic tests and UI tests (PERFICS_BACKEND=fake).

Like a real backend it validates requests, streams tokens, honours stop strings and
max_tokens, and reports KV-cache reuse against the previous prompt, so code written
against it behaves the same on a real model.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.engine.backend import OnToken
from core.engine.grammar_choices import choices
from core.engine.prompts import check_prompt, fallback_chat_prompt
from core.engine.token_scoring import teacher_forced
from core.errors import GenerationFailed, InvalidRequest, PromptTooLong
from core.types import (
    ChoiceScores,
    Generation,
    ModelInfo,
    SamplerSettings,
    TextScore,
    TokenAlternative,
    TokenScore,
)

FAKE_INFO = ModelInfo(
    name="fake-echo",
    path=Path("fake-echo.gguf"),
    file_size=0,
    usable=True,
    sha256="0" * 64,
    display_name="Fake echo model",
    architecture="fake",
    size_label="0M",
    quantization="none",
    context_length=512,
    has_chat_template=False,
)


def _words(text: str) -> list[str]:
    return text.split()


class FakeBackend:
    """Answers with queued responses, or else a seeded function of the prompt. Like a loaded
    GGUF model it serves one call at a time, under a lock, whatever thread calls it."""

    def __init__(
        self,
        responses: list[str] | None = None,
        info: ModelInfo = FAKE_INFO,
        fail_on_call: int | None = None,
        responder: Callable[[str], str] | None = None,
        delay_s: float = 0.0,
        probabilities: bool = True,
    ):
        self.probabilities = probabilities
        self.delay_s = delay_s
        self.info = info
        self.version = "fake"
        self.responses = list(responses or [])
        self.fail_on_call = fail_on_call
        self.responder = responder
        self.prompts: list[str] = []
        self._cached_tokens: list[str] = []
        self.lock = threading.Lock()

    def chat(
        self, messages: list[dict[str, str]], settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        prompt = fallback_chat_prompt(messages)
        recorded = [dict(m) for m in messages]  # as the real backend: the prompt as it was
        return self._run(prompt, recorded, settings, on_token, "fallback")

    def complete(
        self, prompt: str, settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        check_prompt(prompt)
        return self._run(prompt, prompt, settings, on_token, "completion")

    def score_choices(
        self, messages: list[dict[str, str]], prefix: str, choices: Sequence[str]
    ) -> ChoiceScores | None:
        """Like a real model's: its answer is what it writes to the conversation under the
        choices' grammar (queued responses and the responder included), and its distribution
        peaks there (70 %, the rest spread evenly)."""
        if not self.probabilities:
            return None
        alternatives = " | ".join(json.dumps(c) for c in choices)
        grammar = f"root ::= {json.dumps(prefix)} ({alternatives})"
        settings = SamplerSettings(temperature=0.0, seed=0, max_tokens=8, grammar=grammar)
        text = self.chat(messages, settings).text.strip()
        answered = text.removeprefix(prefix)
        if answered not in choices:
            raise GenerationFailed(f"the fake's answer {text!r} is none of the choices")
        if len(choices) == 1:
            return ChoiceScores(probabilities={answered: 1.0}, greedy=answered)
        rest = 0.3 / (len(choices) - 1)
        probabilities = {c: 0.7 if c == answered else rest for c in choices}
        return ChoiceScores(probabilities=probabilities, greedy=answered)

    def score_text(self, context: str, continuation: str, top_k: int = 5) -> TextScore | None:
        """Words are tokens, after a "<s>" BOS; the vocabulary is the text's distinct words.
        Each row's logits are seeded by the words before it, so scores are deterministic and
        go through the same reduction as a real model's."""
        if not self.probabilities:
            return None
        if not continuation.strip():
            raise InvalidRequest("The continuation to score is empty.")
        if top_k < 0:
            raise InvalidRequest(f"top_k must be 0 or more, got {top_k}")
        head, tail = ["<s>", *_words(context)], _words(continuation)
        limit = self.info.context_length or 512
        if len(head) + len(tail) > limit:
            raise PromptTooLong(len(head) + len(tail), limit)
        vocab = sorted(set(head + tail))
        ids = [vocab.index(w) for w in head + tail]

        def decode(tokens, first_position, wants_row):
            for i, wanted in enumerate(wants_row):
                if wanted:
                    seen = " ".join(vocab[t] for t in ids[: first_position + i + 1])
                    seed = int(hashlib.sha256(seen.encode()).hexdigest()[:8], 16)
                    yield np.random.default_rng(seed).normal(0.0, 2.0, len(vocab))

        rows = teacher_forced(ids, len(head), decode, top_k, n_batch=8, max_outputs=8)
        tokens = tuple(
            TokenScore(
                token_id=r.token_id,
                text=vocab[r.token_id],
                logprob=r.logprob,
                rank=r.rank,
                entropy=r.entropy,
                top=tuple(
                    TokenAlternative(token_id=i, text=vocab[i], logprob=lp)
                    for i, lp in zip(r.top_ids, r.top_logprobs, strict=True)
                ),
            )
            for r in rows
        )
        return TextScore(
            model_name=self.info.name,
            context=context,
            continuation=continuation,
            context_tokens=len(head),
            tokens=tokens,
            seconds=0.001,
        )

    def score_reply(
        self, messages: list[dict[str, str]], reply: str, top_k: int = 5
    ) -> TextScore | None:
        """`reply` after the conversation as chat() gives it to this model."""
        return self.score_text(fallback_chat_prompt(messages), reply, top_k)

    def _run(self, prompt, recorded_prompt, settings, on_token, prompt_format) -> Generation:
        with self.lock:
            return self._run_locked(prompt, recorded_prompt, settings, on_token, prompt_format)

    def _run_locked(self, prompt, recorded_prompt, settings, on_token, prompt_format):
        self.prompts.append(prompt)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on_call is not None and len(self.prompts) == self.fail_on_call:
            raise GenerationFailed(f"fake backend failure on call {self.fail_on_call}")
        tokens = _words(prompt)
        if len(tokens) >= (self.info.context_length or 512):
            raise PromptTooLong(len(tokens), self.info.context_length or 512)
        reused = 0
        for a, b in zip(self._cached_tokens, tokens, strict=False):
            if a != b:
                break
            reused += 1
        full = self._answer(prompt, settings)
        # Like the engine, never generate past the context.
        room = (self.info.context_length or 512) - len(tokens)
        text, finish = self._truncate(full, settings, min(settings.max_tokens, room))
        # Like a KV cache, remember the prompt and the answer that followed it.
        self._cached_tokens = tokens + _words(text)
        for word in text.split(" "):
            if on_token:
                on_token(word + " ")
        n_out = len(_words(text))
        return Generation(
            text=text,
            finish_reason=finish,
            prompt=recorded_prompt,
            prompt_tokens=len(tokens),
            prompt_tokens_evaluated=len(tokens) - reused,
            completion_tokens=n_out,
            ttft_s=0.001,
            total_s=0.001 * (n_out + 1),
            gen_tokens_per_s=1000.0 if n_out > 1 else None,
            peak_rss_mb=0.0,
            settings=settings,
            model_name=self.info.name,
            model_sha256=self.info.sha256 or "",
            llama_cpp_version=self.version,
            prompt_format=prompt_format,
        )

    def _answer(self, prompt: str, settings: SamplerSettings) -> str:
        if self.responses:
            return self.responses.pop(0)
        if self.responder:
            return self.responder(prompt)
        digest = hashlib.sha256(f"{settings.seed}:{prompt}".encode()).hexdigest()
        allowed = choices(settings.grammar) if settings.grammar else None
        if allowed:
            # Like a constrained sampler, answer only what the grammar allows.
            return allowed[int(digest, 16) % len(allowed)]
        return f"Answer {digest[:8]} to: " + " ".join(_words(prompt)[-12:])

    @staticmethod
    def _truncate(text: str, settings: SamplerSettings, max_tokens: int) -> tuple[str, str]:
        cut = len(text)
        for stop in settings.stop:
            at = text.find(stop)
            if at != -1:
                cut = min(cut, at)
        finish = "stop"
        text = text[:cut]
        words = text.split(" ")
        if len([w for w in words if w]) > max_tokens:
            text = " ".join(words[:max_tokens])
            finish = "length"
        return text, finish
