"""Endpoint throughput: a run's requests through our endpoint backend
(core/engine/endpoint.EndpointBackend, streaming, as benchmark runs use it) against the
official `openai` Python client issuing the same requests, with the same concurrency, to the
same local server, side by side in one process.

Server: `python -m llama_cpp.server` serving SmolLM2-135M Q4_1 on 127.0.0.1 (one thread,
n_ctx 2048; it serves one request at a time, so this measures what a client adds on top of a
real server). Requests: the builtin suite's questions as single-turn chats, temperature 0,
seed 0, max_tokens 48, both sides streaming. Each block sends the same requests through both
sides, in alternating order, so drift on the machine hits both; a warm-up request per side
comes first. Throughput = completed requests / wall seconds of the block, summed over blocks.
A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.95


def questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "core/data/builtin_suite.jsonl").open()]
    texts = [r.get("text") or r.get("question") or r["turns"][0] for r in rows]
    return [texts[i % len(texts)] for i in range(n)]


class Ours:
    name = "ours (EndpointBackend)"

    def __init__(self, endpoint, max_tokens: int):
        from core.engine.endpoint import EndpointBackend
        from core.engine.endpoint_config import endpoint_model_info
        from core.types import SamplerSettings

        self.backend = EndpointBackend(endpoint_model_info(endpoint))
        self.settings = SamplerSettings(temperature=0.0, seed=0, max_tokens=max_tokens)

    def ask(self, prompt: str) -> int:
        gen = self.backend.chat([{"role": "user", "content": prompt}], self.settings)
        return gen.completion_tokens


class OpenAIClient:
    name = "openai client"

    def __init__(self, endpoint, max_tokens: int):
        import openai

        self.client = openai.OpenAI(base_url=endpoint.base_url, api_key="unused", max_retries=0)
        self.model, self.max_tokens = endpoint.model, max_tokens

    def ask(self, prompt: str) -> int:
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=self.max_tokens,
            temperature=0.0,
            seed=0,
            stream=True,
        )
        pieces = 0
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces += 1
        return pieces


def timed_block(side, prompts: list[str], concurrency: int) -> tuple[float, int]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        tokens = sum(pool.map(side.ask, prompts))
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16, help="per side per block")
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    from tests.server_support import LocalServer

    server = LocalServer(Path(tempfile.mkdtemp(prefix="bench-endpoint-"))).start()
    try:
        endpoint = server.endpoint(max_concurrency=args.concurrency)
        sides = [Ours(endpoint, args.max_tokens), OpenAIClient(endpoint, args.max_tokens)]
        for side in sides:
            side.ask("Warm up.")
        totals = {side.name: [0.0, 0, 0] for side in sides}
        prompts = questions(args.requests)
        for block in range(args.blocks):
            order = sides if block % 2 == 0 else sides[::-1]
            for side in order:
                seconds, tokens = timed_block(side, prompts, args.concurrency)
                total = totals[side.name]
                total[0] += seconds
                total[1] += tokens
                total[2] += len(prompts)
    finally:
        server.kill()

    print(
        f"\nEndpoint throughput: llama_cpp.server (SmolLM2 Q4_1) on 127.0.0.1, concurrency "
        f"{args.concurrency}, {args.blocks} alternating blocks x {args.requests} requests per "
        f"side, max_tokens {args.max_tokens}"
    )
    print(f"{'side':<26} {'requests':>8} {'seconds':>8} {'req/s':>7} {'out tok/s':>9}")
    rates = {}
    for name, (seconds, tokens, requests) in totals.items():
        rates[name] = requests / seconds
        print(
            f"{name:<26} {requests:>8} {seconds:>8.2f} {rates[name]:>7.3f} {tokens / seconds:>9.1f}"
        )
    ours, theirs = rates[sides[0].name], rates[sides[1].name]
    ratio = ours / theirs
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"ours / openai client = {ratio:.3f}x (target >= {TARGET}x: {verdict})")


if __name__ == "__main__":
    main()
