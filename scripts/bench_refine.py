"""KV-cache reuse during self-refinement, measured on real runs.

Every refinement step continues the same conversation, so the previous prompt and answer (the
reusable prefix) should come from the KV cache. For each step this prints prompt tokens in
total and evaluated, the reusable prefix and how much of it was recomputed; then the share of
the reusable prefix recomputed over all runs (target: at most 10%).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import get_settings  # noqa: E402
from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.registry import discover, resolve  # noqa: E402
from core.evaluation.refine import refine  # noqa: E402
from core.types import SamplerSettings  # noqa: E402

PROMPTS = [
    "Give me three tips for writing a clear email.",
    "Explain why the sky is blue to a ten-year-old.",
    "Write a short poem about autumn rain.",
    "What are the pros and cons of working from home?",
    "How do I boil an egg so the yolk stays soft?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="SmolLM2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()

    cfg = get_settings()
    info = resolve(args.model, discover(cfg.models_dir, cfg.cache_dir))
    backend = LlamaBackend(info, n_ctx=4096, threads=cfg.threads)
    settings = SamplerSettings(temperature=0.7, seed=42, max_tokens=args.max_tokens)
    prefix = recomputed = evaluated = total = steps = 0
    print(
        f"model {info.name}, {len(PROMPTS)} prompts, up to {args.rounds} rounds, "
        f"temperature {settings.temperature}, seed {settings.seed}"
    )
    print(
        f"{'prompt':>6} {'round':>5} {'kind':9} {'prompt tok':>10} {'evaluated':>9} "
        f"{'prefix':>6} {'recomputed':>10}"
    )
    for n, prompt in enumerate(PROMPTS, start=1):
        result = refine(backend, prompt, args.rounds, settings)
        for s in result.steps:
            g = s.generation
            print(
                f"{n:>6} {s.round:>5} {s.kind:9} {g.prompt_tokens:>10} "
                f"{g.prompt_tokens_evaluated:>9} {s.prefix_tokens:>6} {s.prefix_recomputed:>10}"
            )
            steps += 1
            total += g.prompt_tokens
            evaluated += g.prompt_tokens_evaluated
            if s.kind != "baseline":
                prefix += s.prefix_tokens
                recomputed += s.prefix_recomputed
        print(f"{'':>6} stop reason: {result.stop_reason}")
    print(
        f"steps {steps}: prompt tokens evaluated {evaluated} of {total} "
        f"({evaluated / total:.1%}); reusable prefix {prefix} tokens, recomputed {recomputed} "
        f"({recomputed / prefix:.2%}; target <= 10%)"
    )


if __name__ == "__main__":
    main()
