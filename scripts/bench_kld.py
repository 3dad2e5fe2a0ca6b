"""Our KL divergence against llama.cpp's own `llama-perplexity --kl-divergence`, on the same
models, text, context and threads: the statistics side by side, their ratios, and the speed
ratio, from one run.

The quantized copy is written into a temporary folder with our quantizer (SmolLM2's Q4_1 file
requantized to Q3_K_M by default). llama.cpp stores the base model's log-probabilities as
16-bit integers and ignores tokens below ln p = -16, so its figures differ from our exact ones
in the fourth significant digit or so; the ratios show by how much.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.quantize import quantize  # noqa: E402
from core.engine.registry import discover, resolve  # noqa: E402
from scripts.llama_tools import (  # noqa: E402
    default_text,
    llama_perplexity_tool,
    run_llama_perplexity,
)

FIELDS = {
    "mean KLD": r"Mean\s+KLD:\s+([\d.]+)",
    "99.0% KLD": r"99\.0%\s+KLD:\s+([\d.]+)",
    "median KLD": r"Median\s+KLD:\s+([\d.]+)",
    "same top %": r"Same top p:\s+([\d.]+)",
    "RMS dp %": r"RMS Δp\s*:\s+([\d.]+)",
    "PPL(Q)": r"Mean PPL\(Q\)\s+:\s+([\d.]+)",
    "PPL(base)": r"Mean PPL\(base\)\s+:\s+([\d.]+)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="SmolLM2")
    parser.add_argument("--type", default="Q3_K_M")
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tool = llama_perplexity_tool()
    source = resolve(args.model, discover(ROOT / "models"))
    text = default_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base_path = folder / source.path.name
        shutil.copyfile(source.path, base_path)
        copy = quantize(base_path, args.type, allow_requantize=True)
        text_path = folder / "text.txt"
        text_path.write_text(text, encoding="utf-8")
        logits = folder / "base.kld"
        _, base_s = run_llama_perplexity(
            tool,
            base_path,
            text_path,
            args.ctx,
            args.threads,
            "--kl-divergence-base",
            str(logits),
        )
        report, their_s = run_llama_perplexity(
            tool,
            copy.path,
            text_path,
            args.ctx,
            args.threads,
            "--kl-divergence-base",
            str(logits),
            "--kl-divergence",
        )
        models = discover(folder)
        base = LlamaBackend(resolve(base_path.stem, models), n_ctx=args.ctx, threads=args.threads)
        model = LlamaBackend(resolve(copy.path.stem, models), n_ctx=args.ctx, threads=args.threads)
        ours = model.kl_divergence(base, text, args.ctx)
        base.close()
        model.close()
    mine = {
        "mean KLD": ours.mean_kld,
        "99.0% KLD": ours.kld.at(0.99),
        "median KLD": ours.kld.at(0.5),
        "same top %": 100 * ours.same_top,
        "RMS dp %": 100 * ours.rms_delta_p,
        "PPL(Q)": ours.ppl,
        "PPL(base)": ours.ppl_base,
    }
    print(
        f"{copy.path.name} against {source.name}: n = {ours.positions:,} positions in "
        f"{ours.chunks} chunks of {args.ctx} tokens, {args.threads} threads"
    )
    for name, pattern in FIELDS.items():
        theirs = float(re.search(pattern, report).group(1))
        print(
            f"  {name:<11} ours {mine[name]:.6f}  llama-perplexity {theirs:.6f}  "
            f"ratio {mine[name] / theirs:.6f}"
        )
    print(
        f"  speed: ours {ours.seconds:.1f} s (both models, one pass) vs llama-perplexity "
        f"{base_s + their_s:.1f} s (base pass + comparison pass, loading included): "
        f"{(base_s + their_s) / ours.seconds:.2f}x"
    )


if __name__ == "__main__":
    main()
