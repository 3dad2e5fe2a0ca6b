"""`perfics`: the dashboard's features, headless. Same core functions, JSON on request."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from core import session
from core.cost import HARDWARE_PRESETS
from core.engine import llama_cpp_version
from core.errors import InvalidRequest, ModelNotFound, PerficsError
from core.judge import default_judge
from core.models import as_row
from core.perfics import COST_BASES, PRESETS, Weights, rank
from core.records import SamplerSettings
from core.refine import (
    DEFAULT_ROUNDS,
    MAX_ROUNDS,
    RefineResult,
    RefineStep,
    check_rounds,
    run_refinement,
)
from core.results import run_results
from core.runner import RunSpec, create_run, ensure_builtin_suite, execute, overview
from core.store import EXPORTABLE_TABLES
from core.suites import load_file
from core.tradeoffs import model_table

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


def cmd_suite_import(args: argparse.Namespace) -> int:
    path = Path(args.path)
    questions, skipped = load_file(path, skip_invalid=args.skip_invalid)
    name = args.name or path.stem
    store = session.store()
    store.save_suite(name, str(path), questions, replace=args.replace)
    for err in skipped:
        print(f"skipped {err}", file=sys.stderr)
    print(
        f"imported {len(questions)} questions into suite {name!r}"
        f"{f', skipped {len(skipped)} invalid row(s)' if skipped else ''}",
        file=sys.stderr,
    )
    return 0


def cmd_suite_list(args: argparse.Namespace) -> int:
    store = session.store()
    ensure_builtin_suite(store)
    suites = store.list_suites()
    if args.json:
        _print_json(suites.to_dict(orient="records"))
    else:
        print(suites.to_string(index=False))
    return 0


def _run_list(args: argparse.Namespace) -> int:
    runs = overview(session.store())
    if args.json:
        _print_json(runs.to_dict(orient="records"))
    elif runs.empty:
        print("No benchmark runs yet.")
    else:
        print(runs.to_string(index=False))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.list:
        return _run_list(args)
    store = session.store()
    store.init()
    pool = session.BackendPool()
    if args.resume:
        run_id = args.resume
        status = store.get_run(run_id)["status"]
        if status == "completed":
            print(f"run {run_id} is already completed", file=sys.stderr)
            return 0
    else:
        if not args.suite or not args.models:
            raise InvalidRequest("--suite and --models are needed to start a run")
        judge = None
        if args.judge == "auto":
            judge = default_judge(pool.models)
        elif args.judge:
            judge = pool.info(args.judge)
        spec = RunSpec(
            suite=args.suite,
            models=tuple(pool.info(n.strip()) for n in args.models.split(",") if n.strip()),
            rounds=args.rounds,
            judge=judge,
            limit=args.limit,
            categories=tuple(c.strip() for c in (args.categories or "").split(",") if c.strip()),
            settings=sampler_settings(args),
        )
        run_id = create_run(store, spec, llama_cpp_version())
    print(f"run {run_id}", file=sys.stderr, flush=True)
    with tqdm(desc="items", unit="item", file=sys.stderr, disable=args.quiet) as bar:

        def show(done: int, total: int, eta: float | None) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        status = execute(store, run_id, pool, show)
    if args.json:
        _print_json({"run_id": run_id, "status": status})
    else:
        print(run_id)
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    results = run_results(session.store(), args.run)
    if args.json:
        _print_json(results)
        return 0
    print(
        f"run {results['run_id']}: {results['status']}, "
        f"{results['progress']['done']}/{results['progress']['total']} items"
    )
    table = pd.DataFrame(results["results"])
    if not table.empty:
        cols = [
            "model",
            "category",
            "items",
            "baseline_score",
            "refined_score",
            "improvement_pct",
            "refined_win_rate",
            "final_accuracy",
        ]
        print(table[cols].round(2).to_string(index=False))
    if results["judge_stats"]:
        print("judge:", json.dumps(results["judge_stats"]))
    return 0


def parse_weights(args: argparse.Namespace) -> Weights:
    if args.preset and args.weights:
        raise InvalidRequest("give --preset or --weights, not both")
    if args.weights:
        try:
            p, r, c = (float(x) for x in args.weights.split(","))
        except ValueError:
            raise InvalidRequest("--weights takes three numbers: P,R,C") from None
        return Weights(p, r, c, args.cost_basis or "latency")
    preset = PRESETS.get(args.preset or "laptop-assistant")
    if preset is None:
        raise InvalidRequest(f"unknown preset; choose one of {', '.join(PRESETS)}")
    return replace(preset, basis=args.cost_basis) if args.cost_basis else preset


def cmd_rank(args: argparse.Namespace) -> int:
    weights = parse_weights(args)
    hardware = HARDWARE_PRESETS[0]
    table = model_table(session.store(), hardware, args.run)
    ranked = rank(table, weights)
    columns = [
        "rank",
        "model",
        "perfics",
        "performance",
        "baseline_performance",
        "gain",
        "gain_relative",
        "performance_source",
        "items",
        "cost",
        "memory_gb",
        "seconds_per_answer",
        "money_per_1000",
        "energy_kwh_per_1000",
        "tokens_per_s",
        "ttft_s",
        "on_pareto",
    ]
    if args.json:
        _print_json(
            {
                "weights": asdict(weights),
                "hardware": asdict(hardware),
                "models": ranked[columns].to_dict(orient="records"),
            }
        )
    elif ranked.empty:
        print("Nothing to rank yet: run a benchmark first (perfics run ...).")
    else:
        print(
            f"weights P={weights.performance} R={weights.refinement} C={weights.cost}, "
            f"cost basis {weights.basis}"
        )
        print(ranked[columns].round(3).to_string(index=False))
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

    p = sub.add_parser("suite", help="import and list question suites")
    suite_sub = p.add_subparsers(dest="suite_command", required=True)
    sp = suite_sub.add_parser("import", help="FastChat/MT-bench question.jsonl, or CSV/JSONL")
    sp.add_argument("path")
    sp.add_argument("--name", help="suite name (default: the file name)")
    sp.add_argument("--skip-invalid", action="store_true", help="import the valid rows only")
    sp.add_argument("--replace", action="store_true", help="overwrite a suite of that name")
    sp.set_defaults(func=cmd_suite_import)
    sp = suite_sub.add_parser("list")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_suite_list)

    p = sub.add_parser("run", help="benchmark: models x suite x refinement rounds, judged")
    p.add_argument("--suite")
    p.add_argument("--models", help="comma-separated names or unique prefixes")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    p.add_argument("--judge", help="judge model, or 'auto' for the largest local model")
    p.add_argument("--limit", type=int, help="first K questions only")
    p.add_argument("--categories", help="comma-separated categories")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    p.add_argument("--list", action="store_true", help="list runs with status and progress")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    add_sampling_args(p, max_tokens=384)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("results", help="per-model, per-category results of a run")
    p.add_argument("--run", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("rank", help="PeRFICS ranking of models from stored runs")
    p.add_argument("--run", help="one benchmark run (default: all runs)")
    p.add_argument("--preset", help=f"one of {', '.join(PRESETS)}")
    p.add_argument("--weights", help="P,R,C: performance, refinement and cost weights")
    p.add_argument("--cost-basis", choices=COST_BASES)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rank)

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
