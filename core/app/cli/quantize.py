"""`perfics quantize`, `perfics kld` and `perfics ladder`: quantized copies of a model and how
far each drifts from it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from core.app import context, ladder, runs, worker
from core.app.cli.common import print_json
from core.app.ladder import ladder_text
from core.app.quantization import kl_divergence, quantize_model
from core.app.scoring import read_text
from core.engine.quantize import DEFAULT_LADDER, parse_types
from core.errors import InvalidRequest
from core.types import RunStatus
from core.types.token_level import KlDivergence, LadderConfig, LadderRung, QuantizedFile


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
    register_ladder(sub)


def format_ladder(cfg: LadderConfig, rows: list[LadderRung]) -> str:
    head = (
        f"Quantization ladder of {cfg.source} on {cfg.text_label} ({cfg.n_ctx}-token chunks); "
        "KLD and same-top against the source"
    )
    if any(r.requantized for r in rows):
        head += " (the source is itself quantized: loss is relative to it)"
    lines = [
        head,
        f"{'type':<8} {'file MiB':>9} {'mem MiB':>8} {'prompt t/s':>10} {'gen t/s':>8} "
        f"{'PPL':>16} {'KLD':>18} {'same top %':>11}",
    ]
    for r in rows:
        kld = "—" if r.mean_kld is None else f"{r.mean_kld:.5f} ± {r.mean_kld_uncertainty:.5f}"
        same = "—" if r.same_top is None else f"{100 * r.same_top:.2f}"
        lines.append(
            f"{r.qtype:<8} {r.file_bytes / 2**20:>9.1f} {r.memory_mb:>8.0f} "
            f"{r.prompt_tokens_per_s or 0:>10.0f} {r.gen_tokens_per_s or 0:>8.1f} "
            f"{r.perplexity:>8.3f} ± {r.perplexity_uncertainty:<5.3f} {kld:>18} {same:>11}"
        )
    if rows:
        lines.append(
            f"n = {rows[0].positions:,} scored positions per model; generation speed over "
            f"{rows[0].gen_tokens} greedy tokens"
        )
    if any(r.quality_n for r in rows):
        lines.append(
            f"Likelihood quality on suite {cfg.quality_suite} (acc_norm per multiple-choice "
            "question, 2^-bits per byte per reference answer; 95 % interval):"
        )
        for r in rows:
            if r.quality is not None:
                lines.append(
                    f"  {r.qtype:<8} {r.quality:.3f} [{r.quality_low or r.quality:.3f}–"
                    f"{r.quality_high or r.quality:.3f}] n = {r.quality_n}"
                )
    for r in rows:
        lines.append(f"  {r.qtype}: " + ", ".join(f"{t} ×{n}" for t, n in r.tensor_types))
    return "\n".join(lines)


def cmd_ladder(args: argparse.Namespace) -> int:
    finished = False
    if args.run:
        run_id = args.run
        ladder.config(run_id)  # refuses another kind of run before anything resumes it
        finished = context.store().runs.get(run_id).status == RunStatus.COMPLETED
        if not finished:
            runs.prepare_resume(run_id)  # clears an earlier stop, so the worker goes on
    elif not args.model:
        raise InvalidRequest("Name the source model, or give --run ID to resume a ladder.")
    else:
        text, label = ladder_text(args.file, args.suite)
        run_id, ctx = ladder.plan(
            args.model, args.types, text, label, args.ctx, args.allow_requantize, args.suite
        )
        if ctx != args.ctx:
            print(f"the text is short: chunks of {ctx} tokens instead", file=sys.stderr)
    print(f"ladder run {run_id}", file=sys.stderr, flush=True)
    with tqdm(
        desc="ladder steps", unit="step", file=sys.stderr, disable=args.quiet or finished
    ) as bar:

        def show(done: int, total: int, eta: float | None) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        if not finished:
            worker.work(run_id, show)
    cfg, rows = ladder.config(run_id), ladder.rungs(run_id)
    if args.json:
        print_json({"run_id": run_id, "rungs": [asdict(r) for r in rows]})
    else:
        print(format_ladder(cfg, rows))
    return 0


def register_ladder(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ladder",
        help="quantize a model to several types and compare every copy on one text",
        description="Writes the missing copies (as perfics quantize), then measures the source "
        "and each copy: file size, memory, prompt and generation speed, perplexity, and KL "
        "divergence and same-top-token share against the source. It is a run: --run ID "
        "resumes a stopped one (perfics run --stop/--delete work on it too).",
    )
    p.add_argument("model", nargs="?", help="the source model (file stem or unique prefix)")
    p.add_argument("--types", default=",".join(DEFAULT_LADDER), help="comma-separated types")
    p.add_argument("--file", help="a UTF-8 text to measure on")
    p.add_argument("--suite", help="or a suite: its questions and reference answers")
    p.add_argument("--ctx", type=int, default=512, help="chunk size in tokens (default 512)")
    p.add_argument("--allow-requantize", action="store_true", help="the source is quantized")
    p.add_argument("--run", help="resume (or show) the ladder run with this id")
    p.add_argument("--json", action="store_true", help="print one JSON record")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_ladder)
