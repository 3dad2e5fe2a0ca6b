"""A stand-in backend for load tests (thread-safe, as an endpoint backend is) and a stored
load test built from it, shared by the unit and page tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from core.engine.fake import FAKE_INFO
from core.errors import EndpointUnavailable
from core.evaluation.loadtest import create_loadtest, plan_config, run_loadtest
from core.store import Store
from core.types import Generation, SamplerSettings

STAND_IN_URL = "http://127.0.0.1:9/v1"


class StandInBackend:
    """Answers "a b c" (3 tokens) after a fixed sleep, from any number of threads at once. It
    counts the calls in flight and the most at once; the first `gate` calls wait for each other
    at a barrier, so calls that overlap are proven by a count, never by a timing. `fail(prompt)`
    returning a reason makes that call fail as an unreachable endpoint does."""

    def __init__(
        self,
        sleep_s: float = 0.002,
        gate: int = 0,
        fail: Callable[[str], str | None] = lambda prompt: None,
        on_call: Callable[[int], None] | None = None,
    ):
        self.info = replace(FAKE_INFO, name="stand-in")
        self.version = "stand-in"
        self.sleep_s, self.fail, self.on_call = sleep_s, fail, on_call
        self.barrier = threading.Barrier(gate) if gate else None
        self.gate = gate
        self.prompts: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def chat(
        self, messages: list[dict[str, str]], settings: SamplerSettings, on_token=None
    ) -> Generation:
        prompt = messages[-1]["content"]
        with self._lock:
            self.prompts.append(prompt)
            calls = len(self.prompts)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.on_call:
                self.on_call(calls)
            if self.barrier is not None and calls <= self.gate:
                self.barrier.wait(timeout=60)
            time.sleep(self.sleep_s)
            reason = self.fail(prompt)
            if reason:
                raise EndpointUnavailable("stand-in", STAND_IN_URL, reason)
            if on_token:
                for piece in ("a ", "b ", "c"):
                    on_token(piece)
            return Generation(
                text="a b c",
                finish_reason="stop",
                prompt=[dict(m) for m in messages],
                prompt_tokens=len(prompt.split()),
                prompt_tokens_evaluated=len(prompt.split()),
                completion_tokens=3,
                ttft_s=0.0,
                total_s=self.sleep_s,
                gen_tokens_per_s=None,
                peak_rss_mb=0.0,
                settings=settings,
                model_name=self.info.name,
                model_sha256=self.info.sha256 or "",
                llama_cpp_version=self.version,
                endpoint="stand-in",
                endpoint_url=STAND_IN_URL,
                server="stand-in/1.0",
            )
        finally:
            with self._lock:
                self.in_flight -= 1


def stored_loadtest(
    store: Store, levels=(1, 2), requests: int = 4, backend: StandInBackend | None = None
) -> str:
    """A completed load test of the stand-in, in `store`; returns its run id."""
    backend = backend or StandInBackend()
    run_id = create_loadtest(store, plan_config(backend.info, levels, requests, max_tokens=16))
    run_loadtest(store, run_id, lambda name: backend)
    return run_id
