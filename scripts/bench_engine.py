"""Engine speed: our LlamaBackend against raw llama-cpp-python, side by side in one run.

Same model file, threads, context, prompt, seed and greedy sampling; runs alternate between
the two so that machine drift hits both equally. Both the plain call and the streaming call
are compared with the same mode of raw llama-cpp-python. Prints tokens/s (completion tokens
over wall-clock seconds of the whole call) and the ratio engine / raw; target >= 0.97.
A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from llama_cpp import Llama  # noqa: E402
from scipy.stats import bootstrap  # noqa: E402

from core.config import get_settings  # noqa: E402
from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.registry import discover, resolve  # noqa: E402
from core.types import SamplerSettings  # noqa: E402

PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a map. Chapter 1:"


def _timed(fn) -> tuple[str, float]:
    start = time.perf_counter()
    text = fn()
    return text, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="SmolLM2")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    cfg = get_settings()
    info = resolve(args.model, discover(cfg.models_dir, cfg.cache_dir))
    n_ctx = 2048
    engine = LlamaBackend(info, n_ctx=n_ctx, threads=args.threads)
    raw = Llama(
        str(info.path),
        n_ctx=n_ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        seed=42,
        verbose=False,
    )
    settings = SamplerSettings(temperature=0.0, seed=42, max_tokens=args.tokens)
    raw_kwargs = {
        "max_tokens": args.tokens,
        "temperature": 0.0,
        "seed": 42,
        "repeat_penalty": settings.repeat_penalty,
    }

    def ignore(_piece: str) -> None:
        pass

    calls = {
        ("plain", "engine"): lambda: engine.complete(PROMPT, settings).text,
        ("plain", "raw"): lambda: raw.create_completion(PROMPT, **raw_kwargs)["choices"][0]["text"],
        ("stream", "engine"): lambda: engine.complete(PROMPT, settings, ignore).text,
        ("stream", "raw"): lambda: "".join(
            c["choices"][0]["text"]
            for c in raw.create_completion(PROMPT, stream=True, **raw_kwargs)
        ),
    }
    # Warm-up pages the weights in for both and tells us the token count of the greedy answer.
    reference = engine.complete(PROMPT, settings)
    tokens = reference.completion_tokens
    for key, fn in calls.items():
        text = fn()
        if text != reference.text:
            sys.exit(f"{key} produced different text; the comparison would be unfair")

    print(
        f"model {info.name} ({info.quantization}), threads {args.threads}, prompt "
        f"{reference.prompt_tokens} tokens, {tokens} completion tokens per answer, greedy; "
        f"{args.reps} repetitions of each, alternating engine/raw"
    )
    for mode in ("plain", "stream"):
        tps: dict[str, list[float]] = {"engine": [], "raw": []}
        for rep in range(args.reps):
            order = ("engine", "raw") if rep % 2 == 0 else ("raw", "engine")
            for who in order:
                _, seconds = _timed(calls[(mode, who)])
                tps[who].append(tokens / seconds)
        e, r = statistics.median(tps["engine"]), statistics.median(tps["raw"])
        for who, med in (("engine", e), ("raw", r)):
            print(
                f"  {mode:6} {who:6}: median {med:6.1f} tok/s "
                f"(min {min(tps[who]):.1f}, max {max(tps[who]):.1f}, n={args.reps})"
            )
        ci = bootstrap(
            (np.array(tps["engine"]), np.array(tps["raw"])),
            lambda a, b, axis=-1: np.median(a, axis=axis) / np.median(b, axis=axis),
            vectorized=True,
            n_resamples=2000,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(0),
        ).confidence_interval
        print(
            f"  {mode:6} ratio engine/raw = {e / r:.3f}  (bootstrap 95% CI {ci.low:.3f}-"
            f"{ci.high:.3f}; target >= 0.97)"
        )


if __name__ == "__main__":
    main()
