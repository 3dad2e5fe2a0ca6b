"""The backend for a model served by an OpenAI-compatible server (llama.cpp's llama-server,
vLLM, Ollama, `python -m llama_cpp.server`), over plain HTTP from the standard library.

Requests always stream, so time to first token is measured here, client-side, from sending
the request. Several threads may call chat() at once: requests go to the least busy of the
endpoint's URLs (its replicas), never more than max_concurrency in flight per URL, waiting
for a free slot otherwise. Transient failures (unreachable, timed out, 429, 5xx, a cut or
garbled stream) are retried with capped exponential backoff, on another replica at once when
one is up; a request that still fails raises EndpointUnavailable, which stops a run resumable.
A refusal of the request itself (HTTP 400, 413, 422) raises EndpointRefusedRequest at once,
which fails that item only. (A stream ended without a word is first asked again unstreamed:
llama_cpp.server answers a prompt past its context that way, giving its 400 unstreamed only.)
Any other refusal (a missing key, 401, 403, 404, a reply that is not OpenAI-compatible)
raises EndpointRejected at once: the endpoint is not set up to serve, so a run stops
resumable until the user fixes it.

What is sent besides the OpenAI fields: `repeat_penalty` always, because servers disagree on
its default (llama_cpp.server 1.1, llama-server 1.0) and the record must say what was used;
`grammar` when the settings carry one (llama.cpp servers constrain sampling with it; the judge
relies on it). Servers that do not know a field ignore it.

Token counts come from the reply's `usage` when the server sends it; else from llama.cpp's
`timings` (predicted_n; prompt_n + cache_n); else completion_tokens is the number of text
chunks streamed (one token each on llama.cpp servers) and prompt_tokens is 0, meaning unknown.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

from core.engine.backend import OnToken
from core.engine.endpoint_http import (
    Connections,
    Rejected,
    Reply,
    Transient,
    get_json,
    stream,
)
from core.engine.endpoint_pool import ReplicaPool
from core.engine.footprint import peak_rss_mb
from core.engine.prompts import check_messages, check_prompt
from core.errors import (
    EndpointRefusedRequest,
    EndpointRejected,
    EndpointUnavailable,
    InvalidRequest,
)
from core.types import Generation, ModelInfo, SamplerSettings
from core.types.endpoints import ServerTimings


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value >= 0 else None


class EndpointBackend:
    """One endpoint model. Thread-safe. Retry and replica settings are keyword arguments so
    tests can shrink the delays; `sleep` and `rng` make the waits observable."""

    def __init__(
        self,
        info: ModelInfo,
        *,
        retries: int = 4,
        backoff_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        jitter: float = 0.25,
        cooldown_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        if info.endpoint is None:
            raise InvalidRequest(f"{info.name} is not served by an endpoint.")
        self.info = info
        self.config = info.endpoint
        self.version = f"endpoint {self.config.name} ({self.config.model})"
        self.retries, self.backoff_s, self.backoff_cap_s = retries, backoff_s, backoff_cap_s
        self.jitter, self._sleep, self._rng = jitter, sleep, rng or random.Random()
        self._connections = Connections(self.config.timeout_s)
        self._pool = ReplicaPool(self.config.urls, self.config.max_concurrency, cooldown_s)

    def close(self) -> None:
        self._connections.close_all()

    def chat(
        self, messages: list[dict[str, str]], settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        check_messages(messages)
        # A copy: callers keep appending to their conversation, and the record must keep the
        # prompt this answer was generated from.
        recorded = [dict(m) for m in messages]
        body = {**self._sampling(settings), "messages": recorded}
        return self._generate("/chat/completions", body, recorded, settings, on_token, "server")

    def complete(
        self, prompt: str, settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation:
        check_prompt(prompt)
        body = {**self._sampling(settings), "prompt": prompt}
        return self._generate("/completions", body, prompt, settings, on_token, "completion")

    def score_choices(self, messages, prefix, choices) -> None:
        """Servers give no probabilities over a fixed set of replies: the caller samples under
        a grammar instead."""
        return None

    def score_text(self, context: str, continuation: str, top_k: int = 5) -> None:
        """Not offered: a server's `echo` + `logprobs` scores the prompt tokenised as one text
        (tokens straddling the context/continuation boundary) and gives neither token ids nor
        the whole distribution's entropy, which a TextScore records."""
        return None

    def score_reply(self, messages, reply: str, top_k: int = 5) -> None:
        return None

    def check(self) -> str:
        """One line on what answers at each URL (GET /models, no retries), e.g. "2 replicas
        up: uvicorn, model models/SmolLM2-135M-Instruct.Q4_1.gguf"; EndpointError otherwise."""
        headers, key = self._headers(accept="application/json")
        servers: list[str] = []
        models: list[str] = []
        for url in self.config.urls:
            try:
                listing, server = get_json(self._connections, url, "/models", headers)
            except Transient as exc:
                raise EndpointUnavailable(self.config.name, url, _scrub(exc.reason, key)) from None
            except Rejected as exc:
                raise self._refusal(exc, url, key) from None
            data = listing.get("data") if isinstance(listing, dict) else None
            if not isinstance(data, list):
                reason = "/models did not answer an OpenAI model list"
                raise EndpointRejected(self.config.name, url, reason)
            servers.append(server or "unnamed server")
            models += [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
        n = len(self.config.urls)
        line = f"{n} replicas up" if n > 1 else "up"
        line += f": {', '.join(dict.fromkeys(servers))}"
        line += f", model {', '.join(dict.fromkeys(models))}" if models else ", no model listed"
        if models and self.config.model not in models:
            line += f" ({self.config.model} not listed; the server may still accept it)"
        return line

    def _sampling(self, settings: SamplerSettings) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
            "seed": settings.seed,
            "repeat_penalty": settings.repeat_penalty,
        }
        if settings.stop:
            body["stop"] = list(settings.stop)
        if settings.grammar:
            body["grammar"] = settings.grammar
        return body

    def _headers(self, accept: str = "text/event-stream") -> tuple[dict[str, str], str | None]:
        """Request headers, with the API key read from its environment variable now (so a key
        set after the dashboard started is used), and the key for scrubbing error texts."""
        headers = {
            "Content-Type": "application/json",
            "Accept": accept,
            "User-Agent": "perfics-studio",
        }
        variable = self.config.api_key_env
        if not variable:
            return headers, None
        key = os.environ.get(variable)
        if not key:
            reason = f"the API key's environment variable {variable} is not set"
            raise EndpointRejected(self.config.name, self.config.base_url, reason)
        headers["Authorization"] = f"Bearer {key}"
        return headers, key

    def _generate(self, path, body, recorded_prompt, settings, on_token, prompt_format):
        reply, url, sent, ended = self._call(path, body, on_token)
        usage, timings = reply.usage or {}, reply.timings or {}
        completion = _count(usage.get("completion_tokens"))
        if completion is None:
            completion = _count(timings.get("predicted_n"))
        if completion is None:
            completion = reply.pieces
        cached = _count(timings.get("cache_n"))
        if cached is None:
            cached = _count((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        prompt_tokens = _count(usage.get("prompt_tokens"))
        if prompt_tokens is None and _count(timings.get("prompt_n")) is not None:
            # llama.cpp's prompt_n counts only the tokens it evaluated, not those from cache.
            prompt_tokens = timings["prompt_n"] + (cached or 0)
        prompt_tokens = prompt_tokens or 0  # 0: the server did not say
        evaluated = max(prompt_tokens - cached, 0) if cached is not None else prompt_tokens
        total = ended - sent
        ttft = (reply.first_piece_at or ended) - sent
        decode = total - ttft
        return Generation(
            text=reply.text,
            finish_reason=reply.finish_reason or "stop",
            prompt=recorded_prompt,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=evaluated,
            completion_tokens=completion,
            ttft_s=ttft,
            total_s=total,
            gen_tokens_per_s=(completion - 1) / decode if completion > 1 and decode > 0 else None,
            peak_rss_mb=peak_rss_mb(),
            settings=settings,
            model_name=self.info.name,
            model_sha256=self.info.sha256 or "",
            llama_cpp_version=self.version,
            prompt_format=prompt_format,
            model_memory_mb=None,
            endpoint=self.config.name,
            endpoint_url=url,
            server=_server_line(reply),
            server_timings=ServerTimings.from_dict(reply.timings) if reply.timings else None,
        )

    def _call(self, path: str, body: dict[str, Any], on_token: OnToken):
        """The first complete reply over at most retries + 1 tries: (reply, the URL that gave
        it, perf_counter when that try was sent, perf_counter when its reply ended).

        on_token sees the pieces of every try as they stream: after a try cut off mid-stream,
        it has had that try's first pieces before the retried reply's. The Generation's text
        is the successful try's alone."""
        headers, key = self._headers()
        began = time.monotonic()
        tried: set[str] = set()
        waits = 0
        last: Transient | None = None
        url = self.config.base_url
        for _ in range(self.retries + 1):
            if last is not None and not self._pool.another_up(tried):
                self._sleep(self._delay(waits, last.retry_after))
                waits += 1
                tried.clear()
            url = self._pool.acquire(tried)
            answered = True
            try:
                sent = time.perf_counter()
                reply = self._send(url, path, body, headers, on_token)
                return reply, url, sent, time.perf_counter()
            except Transient as exc:
                answered = not exc.unreachable
                last = exc
                tried.add(url)
            except Rejected as exc:
                raise self._refusal(exc, url, key) from None
            finally:
                self._pool.release(url, answered)
        tries = self.retries + 1
        spent = time.monotonic() - began
        reason = f"{last.reason}; gave up after {tries} tr{'ies' if tries > 1 else 'y'}"
        reason += f" over {spent:.1f} s"
        raise EndpointUnavailable(self.config.name, url, _scrub(reason, key))

    def _send(self, url: str, path: str, body: dict[str, Any], headers, on_token) -> Reply:
        """One try. A stream the server ended without a word is asked for once more, whole
        (not streamed): llama_cpp.server does that to a request it cannot serve, a prompt
        longer than its context, and answers the same request unstreamed with HTTP 400 and
        the reason (or with the reply, when the silence was something else)."""
        try:
            return stream(self._connections, url, path, body, headers, on_token)
        except Transient as exc:
            if not exc.silent:
                raise
        whole = {k: v for k, v in body.items() if k != "stream_options"} | {"stream": False}
        return stream(self._connections, url, path, whole, headers, on_token)

    def _refusal(self, exc: Rejected, url: str, key: str | None) -> EndpointRejected:
        kind = EndpointRefusedRequest if exc.request_only else EndpointRejected
        return kind(self.config.name, url, _scrub(exc.reason, key))

    def _delay(self, waits: int, retry_after: float | None) -> float:
        """Seconds before the next try: what a 429's Retry-After asked (already capped), else
        backoff_s doubling per wait up to backoff_cap_s, spread by ± jitter so clients that
        failed together do not retry together."""
        if retry_after is not None:
            return retry_after
        base = min(self.backoff_cap_s, self.backoff_s * 2**waits)
        return min(self.backoff_cap_s, base * (1 + self.jitter * self._rng.uniform(-1, 1)))


def _server_line(reply: Reply) -> str:
    parts = [reply.server or "unnamed server"]
    if reply.model:
        parts.append(f"model {reply.model}")
    if reply.fingerprint:
        parts.append(f"fingerprint {reply.fingerprint}")
    return "; ".join(parts)


def _scrub(text: str, key: str | None) -> str:
    """An error text without the API key, should a server echo it back."""
    return text.replace(key, "[API key]") if key else text
