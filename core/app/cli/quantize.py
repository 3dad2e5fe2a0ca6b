"""`perfics quantize` and `perfics kld`: quantized copies of a model and their drift."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from core.app.cli.common import print_json
from core.app.quantization import kl_divergence, quantize_model
from core.app.scoring import read_text
from core.engine.quantize import DEFAULT_LADDER, parse_types
from core.types.token_level import KlDivergence, QuantizedFile


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def format_quantized(q: QuantizedFile) -> str:
    types = ", ".join(f"{name} ×{n}" for name, n in q.tensor_types)
    how = "already there" if q.reused else f"written in {q.seconds:.1f} s"
    note = f" (requantized from {q.source.name}: loss is relative to it)" if q.requantized else ""
    return f"{q.qtype}: {q.path.name}, {_mib(q.size_bytes)}, {how}{note}\n  tensor types: {types}"


def cmd_quantize(args: argparse.Namespace) -> int:
    types = parse_types(args.types)

    def progress(qtype: str, done: int, total: int) -> None:
        if args.quiet:
            return
        if done == total:
            print(f"{qtype}: {total} tensors written", file=sys.stderr)
        elif sys.stderr.isatty():
            print(f"{qtype}: tensor {done}/{total}", end="\r", file=sys.stderr, flush=True)

    files = quantize_model(args.model, types, args.allow_requantize, progress)
    if args.json:
        print_json([{**asdict(q), "path": str(q.path), "source": str(q.source)} for q in files])
    else:
        print("\n".join(format_quantized(q) for q in files))
    return 0


def _pm(value: float, uncertainty: float, digits: int = 6) -> str:
    return f"{value:.{digits}f} ± {uncertainty:.{digits}f}"


def format_kld(r: KlDivergence) -> str:
    lines = [
        f"{r.model_name} against {r.base_name}: {r.positions:,} positions scored in {r.chunks} "
        f"chunks of {r.n_ctx} tokens (the text is {r.text_tokens:,} tokens); {r.seconds:.1f} s",
        f"PPL (model)                   : {_pm(r.ppl, r.ppl_uncertainty, 4)}",
        f"PPL (base)                    : {_pm(r.ppl_base, r.ppl_base_uncertainty, 4)}",
        f"PPL ratio                     : {_pm(r.ppl_ratio, r.ppl_ratio_uncertainty)}",
        f"Cor(ln PPL, ln PPL base)      : {100 * r.ppl_correlation:.2f} %",
        f"Mean KLD (nats)               : {_pm(r.mean_kld, r.mean_kld_uncertainty)}",
        f"Maximum KLD                   : {r.kld.maximum:.6f}",
    ]
    for fraction, value in r.kld.percentiles:
        if fraction >= 0.5:
            label = "Median KLD" if fraction == 0.5 else f"{100 * fraction:.1f} % KLD"
            lines.append(f"{label:<30}: {value:.6f}")
    lines += [
        f"Same top token                : "
        f"{_pm(100 * r.same_top, 100 * r.same_top_uncertainty, 3)} %",
        f"Mean Δp (correct token)       : "
        f"{_pm(100 * r.mean_delta_p, 100 * r.mean_delta_p_uncertainty, 3)} %",
        f"RMS Δp                        : "
        f"{_pm(100 * r.rms_delta_p, 100 * r.rms_delta_p_uncertainty, 3)} %",
    ]
    return "\n".join(lines)


def cmd_kld(args: argparse.Namespace) -> int:
    text = read_text(Path(args.file))

    def progress(done: int, total: int, mean_kld: float) -> None:
        if not args.quiet:
            print(f"chunk {done}/{total}: mean KLD so far {mean_kld:.6f}", file=sys.stderr)

    result = kl_divergence(args.base, args.model, text, args.ctx, progress)
    if args.json:
        print_json({**asdict(result), "ppl_ratio": result.ppl_ratio})
    else:
        print(format_kld(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "quantize",
        help="write quantized copies of a model next to it (llama.cpp's quantizer)",
        description="Each copy is written under a temporary name and renamed when complete; "
        "a copy already there is kept, so running again resumes. The tensor types actually "
        "written are listed: K-quants fall back to older types where rows are not a multiple "
        "of 256.",
    )
    q.add_argument("model", help="file stem or a unique prefix of it")
    q.add_argument(
        "--types",
        default=",".join(DEFAULT_LADDER),
        help=f"comma-separated types, highest precision first (default {','.join(DEFAULT_LADDER)})",
    )
    q.add_argument(
        "--allow-requantize",
        action="store_true",
        help="quantize a file that is already quantized; figures are then relative to it",
    )
    q.add_argument("--json", action="store_true", help="print JSON records")
    q.add_argument("--quiet", action="store_true", help="no progress on stderr")
    q.set_defaults(func=cmd_quantize)

    k = sub.add_parser(
        "kld",
        help="KL divergence of a model's predictions from a base model's (same vocabulary)",
        description="The text is cut into --ctx-token chunks as for perplexity; at each "
        "position of each chunk's second half both models' full next-token distributions are "
        "compared. The statistics are those of llama-perplexity --kl-divergence.",
    )
    k.add_argument("--base", required=True, help="the reference model (e.g. the source file)")
    k.add_argument("--model", required=True, help="the model compared with it")
    k.add_argument("--file", required=True, help="a UTF-8 text file")
    k.add_argument("--ctx", type=int, default=512, help="chunk size in tokens (default 512)")
    k.add_argument("--json", action="store_true", help="print one JSON record")
    k.add_argument("--quiet", action="store_true", help="no per-chunk progress on stderr")
    k.set_defaults(func=cmd_kld)
