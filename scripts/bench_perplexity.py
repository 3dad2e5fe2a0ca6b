"""Our corpus perplexity against llama.cpp's own `llama-perplexity`, on the same model, text,
context and threads: the figures, their ratio, and the speed ratio, side by side in one run.

llama-perplexity is built from the source vendored in the llama-cpp-python sdist
(scripts/build_llama_tools.sh, a few minutes the first time). It runs with flash attention
off, as llama-cpp-python does by default: with it on, llama.cpp's figure moves by about 0.2 %.
The default text is the first bill titles of the shared US Congress set when present; pass
--file for any other UTF-8 text of at least 8 chunks.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.registry import discover, resolve  # noqa: E402
from scripts.llama_tools import (  # noqa: E402
    default_text,
    llama_perplexity_tool,
    run_llama_perplexity,
)


def llama_perplexity(tool: str, model: Path, text: Path, ctx: int, threads: int):
    log, seconds = run_llama_perplexity(tool, model, text, ctx, threads)
    final = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", log)
    return float(final.group(1)), float(final.group(2)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="SmolLM2,gemma")
    args = parser.parse_args()
    tool = llama_perplexity_tool()
    text = args.file.read_text(encoding="utf-8") if args.file else default_text()
    models = discover(ROOT / "models")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as tmp:
        tmp.write(text)
        tmp.flush()
        print(f"text {len(text):,} characters, --ctx {args.ctx}, {args.threads} threads")
        for name in args.models.split(","):
            info = resolve(name, models)
            theirs, their_pm, their_s = llama_perplexity(
                tool, info.path, Path(tmp.name), args.ctx, args.threads
            )
            backend = LlamaBackend(info, n_ctx=max(args.ctx, 512), threads=args.threads)
            ours = backend.corpus_perplexity(text, args.ctx)
            backend.close()
            print(
                f"{info.name}: ours {ours.perplexity:.4f} +/- {ours.uncertainty:.5f}, "
                f"llama-perplexity {theirs:.4f} +/- {their_pm:.5f}; ratio "
                f"{ours.perplexity / theirs:.6f} (n = {ours.chunks} chunks, "
                f"{ours.tokens_scored} tokens scored); speed ours/theirs "
                f"{their_s / ours.seconds:.2f}x ({ours.seconds:.1f} s vs {their_s:.1f} s, "
                "theirs includes loading the model)"
            )


if __name__ == "__main__":
    main()
