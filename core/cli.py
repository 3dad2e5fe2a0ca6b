"""`perfics`: the dashboard's features, headless. Same core functions, JSON on request."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from core import session
from core.errors import ModelNotFound, PerficsError
from core.models import as_row
from core.records import SamplerSettings
from core.refine import (
    DEFAULT_ROUNDS,
    MAX_ROUNDS,
    RefineResult,
    RefineStep,
    check_rounds,
    run_refinement,
)
from core.store import EXPORTABLE_TABLES

EXIT_USAGE = 2
EXIT_ERROR = 1


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def add_sampling_args(p: argparse.ArgumentParser, max_tokens: int) -> None:
    p.add_argument("--max-tokens", type=int, default=max_tokens, help="per generation")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--repeat-penalty", type=float, default=1.1)
    p.add_argument("--seed", type=int, default=42)


def sampler_settings(args: argparse.Namespace) -> SamplerSettings:
    return SamplerSettings(
        temperature=args.temperature,
        top_p=args.top_p,
        repeat_penalty=args.repeat_penalty,
        max_tokens=args.max_tokens,
        seed=args.seed,
        stop=tuple(getattr(args, "stop", None) or ()),
        grammar=getattr(args, "grammar", None),
    )


def cmd_models(args: argparse.Namespace) -> int:
    models = session.list_models()
    if args.json:
        _print_json([as_row(m) for m in models])
        return 0
    if not models:
        print(f"No .gguf files in {session.settings().models_dir}.")
        return 0
    for m in models:
        if m.usable:
            chat = "chat" if m.has_chat_template else "no chat template"
            print(
                f"{m.name:40} {m.architecture or '?':10} {m.size_label or '?':6} "
                f"{m.quantization or '?':8} ctx {m.context_length or '?':>6}  {chat:17} "
                f"{m.file_size / 1e6:7.1f} MB  {(m.sha256 or '')[:12]}"
            )
        else:
            print(f"{m.name:40} UNUSABLE: {m.reason}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    settings = sampler_settings(args)
    store = session.store()
    store.init()  # fail on an unwritable or locked database before spending time generating
    backend = session.load_backend(args.model)
    stream = None if args.json else (lambda piece: print(piece, end="", flush=True))
    if args.raw:
        gen = backend.complete(args.prompt, settings, stream)
    else:
        gen = backend.chat([{"role": "user", "content": args.prompt}], settings, stream)
    store.upsert_model(backend.info)
    gen_id = store.save_generation(gen)
    if args.json:
        _print_json({"id": gen_id, **asdict(gen)})
    else:
        print()
        print(
            f"[{gen.completion_tokens} tokens, {gen.gen_tokens_per_s or 0:.1f} tok/s, "
            f"ttft {gen.ttft_s:.2f} s, total {gen.total_s:.2f} s, "
            f"prompt {gen.prompt_tokens_evaluated}/{gen.prompt_tokens} evaluated, "
            f"peak RSS {gen.peak_rss_mb:.0f} MB, finish {gen.finish_reason}]",
            file=sys.stderr,
        )
    return 0


def _step_metrics(step: RefineStep) -> dict[str, Any]:
    g = step.generation
    return {
        "prompt_tokens": g.prompt_tokens,
        "prompt_tokens_evaluated": g.prompt_tokens_evaluated,
        "prompt_tokens_reused": g.prompt_tokens_reused,
        "prefix_tokens": step.prefix_tokens,
        "completion_tokens": g.completion_tokens,
        "ttft_s": g.ttft_s,
        "total_s": g.total_s,
        "gen_tokens_per_s": g.gen_tokens_per_s,
        "finish_reason": g.finish_reason,
    }


def refine_json(run_id: str, result: RefineResult) -> dict[str, Any]:
    rounds: dict[int, dict[str, Any]] = {}
    for step in result.steps[1:]:
        entry = rounds.setdefault(step.round, {"round": step.round, "metrics": {}})
        entry[step.kind] = step.text
        entry["metrics"][step.kind] = _step_metrics(step)
    return {
        "run_id": run_id,
        "prompt": result.prompt,
        "model": result.steps[0].generation.model_name,
        "baseline": result.baseline,
        "baseline_metrics": _step_metrics(result.steps[0]),
        "rounds": list(rounds.values()),
        "final": result.final,
        "stop_reason": result.stop_reason,
        "templates": {k: {"id": t.id, "version": t.version} for k, t in result.templates.items()},
        "totals": result.totals(),
    }


def cmd_refine(args: argparse.Namespace) -> int:
    settings = sampler_settings(args)
    check_rounds(args.rounds)
    store = session.store()
    store.init()
    backend = session.load_backend(args.model)

    def progress(step: RefineStep) -> None:
        if args.json:
            return
        g = step.generation
        print(
            f"\n--- round {step.round} {step.kind} [{g.completion_tokens} tokens, "
            f"{g.total_s:.1f} s, prompt {g.prompt_tokens_reused}/{g.prompt_tokens} reused]\n"
            f"{step.text}",
            file=sys.stdout,
        )

    run_id, result = run_refinement(
        store, backend, args.prompt, args.rounds, settings, on_step=progress
    )
    if args.json:
        _print_json(refine_json(run_id, result))
    else:
        t = result.totals()
        print(
            f"\n[run {run_id}: stop reason {result.stop_reason}, {result.rounds_done} round(s), "
            f"{t['completion_tokens']} tokens in {t['seconds']:.1f} s, prompt tokens evaluated "
            f"{t['prompt_tokens_evaluated']}/{t['prompt_tokens']}]",
            file=sys.stderr,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    rows = session.store().export(args.table, args.out, args.format)
    print(f"wrote {rows} rows of {args.table} to {args.out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list GGUF models and their metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("generate", help="generate one answer and store it")
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    p.add_argument("--prompt", required=True)
    add_sampling_args(p, max_tokens=256)
    p.add_argument("--stop", action="append", help="stop string; repeat for several")
    p.add_argument("--grammar", help="GBNF grammar the output must follow")
    p.add_argument("--raw", action="store_true", help="plain completion, no chat formatting")
    p.add_argument("--json", action="store_true", help="print one JSON record")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("refine", help="answer, self-critique and rewrite for N rounds")
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    p.add_argument("--prompt", required=True)
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"0-{MAX_ROUNDS}")
    add_sampling_args(p, max_tokens=384)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_refine)

    p = sub.add_parser("export", help="export a table to parquet or csv")
    p.add_argument("table", choices=EXPORTABLE_TABLES)
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PerficsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
