"""`perfics suite`, `perfics run` and `perfics results`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.app import context, endpoints, likelihood, runs
from core.app.cli import likelihood as likelihood_cli
from core.app.cli.common import (
    add_sampling_args,
    print_json,
    sampler_settings,
    work_or_launch,
)
from core.app.formatting import estimate
from core.app.results import measured_run_kind, results
from core.errors import InvalidRequest
from core.evaluation.judge import base_model_note, default_judge, judge_choice_reason
from core.evaluation.refine import DEFAULT_ROUNDS
from core.types import RunSpec, RunStatus


def cmd_suite_import(args: argparse.Namespace) -> int:
    references = Path(args.references) if args.references else None
    done = runs.import_suite(
        Path(args.path), args.name, args.skip_invalid, args.replace, references
    )
    for err in done.skipped:
        print(f"skipped {err}", file=sys.stderr)
    print(
        f"imported {done.questions} questions into suite {done.name!r}"
        f"{f', skipped {len(done.skipped)} invalid row(s)' if done.skipped else ''}",
        file=sys.stderr,
    )
    if references:
        # A question that has a reference of its own keeps it, so this can be fewer than
        # the file's lines.
        print(f"{done.reference_answers} question(s) carry a reference answer", file=sys.stderr)
    return 0


def cmd_suite_list(args: argparse.Namespace) -> int:
    suites = runs.suites()
    if args.json:
        print_json(suites.to_dict(orient="records"))
    else:
        print(suites.to_string(index=False))
    return 0


def _run_list(args: argparse.Namespace) -> int:
    table = runs.overview()
    if args.json:
        print_json(table.to_dict(orient="records"))
    elif table.empty:
        print("No benchmark runs yet.")
    else:
        print(table.to_string(index=False))
    return 0


def _new_run(args: argparse.Namespace) -> RunSpec:
    if not args.suite or not args.models:
        raise InvalidRequest("--suite and --models are needed to start a run")
    pool = context.backend_pool()
    judge = None
    if args.judge == "auto":
        judge = default_judge(pool.models)
        if judge is not None:
            print(f"judge auto: {judge_choice_reason(judge, pool.models)}", file=sys.stderr)
    elif args.judge:
        judge = pool.info(args.judge)
    if base_model_note(judge):
        print(f"warning: {base_model_note(judge)}", file=sys.stderr)
    return RunSpec(
        suite=args.suite,
        models=tuple(pool.info(n.strip()) for n in args.models.split(",") if n.strip()),
        rounds=args.rounds,
        judge=judge,
        limit=args.limit,
        categories=tuple(c.strip() for c in (args.categories or "").split(",") if c.strip()),
        settings=sampler_settings(args),
        stop_early=args.stop_early,
        sample_seed=args.sample_seed,
    )


def cmd_run(args: argparse.Namespace) -> int:
    if args.list:
        return _run_list(args)
    if args.stop_run:
        print(runs.stop_run(args.stop_run), file=sys.stderr)
        return 0
    if args.delete:
        runs.delete_run(args.delete)
        print(f"deleted run {args.delete}", file=sys.stderr)
        return 0
    context.store().init(write=True)
    if args.resume:
        run_id = args.resume
        if context.store().runs.get(run_id).status == RunStatus.COMPLETED:
            print(f"run {run_id} is already completed", file=sys.stderr)
            return 0
        runs.prepare_resume(run_id)
    elif args.measure == "likelihood":
        run_id = likelihood_cli.create_run(args)
    else:
        run_id = runs.create(_new_run(args))
    return work_or_launch(run_id, args, "item")


def _print_results(report: dict) -> None:
    rows = report["results"]
    print("quality from reference checks (1 = passed), 95% bootstrap CIs:")
    for r in rows:
        if r["reference_items"]:
            print(
                f"  {r['model']:<32} {r['category']:<15} baseline "
                f"{estimate(r, 'baseline_accuracy')}"
                f"  refined {estimate(r, 'final_accuracy')}"
            )
    judge = report["judge_reliability"]
    if judge is None:
        print("no judge ratings" if not report["judge"] else "the judge has not rated yet")
        return
    reasons = "; ".join(judge["reasons"]) or "every criterion within bounds"
    print(f"judge {judge['judge']}: {judge['verdict'].upper()} ({reasons})")
    print("judge ratings 1-10, sampled and probability-weighted (expected):")
    for r in rows:
        parts = [
            f"{name} {estimate(r, col)}"
            for name, col in (
                ("baseline", "baseline_score"),
                ("refined", "refined_score"),
                ("E[baseline]", "baseline_expected"),
                ("E[refined]", "refined_expected"),
            )
        ]
        print(f"  {r['model']:<32} {r['category']:<15} " + "  ".join(parts))


def cmd_results(args: argparse.Namespace) -> int:
    if args.run is not None:
        measured_run_kind(args.run, "results are shown for")
    run_id = args.run or runs.latest_benchmark()
    if run_id is None:
        print("No benchmark runs yet: start one with `perfics run` or on the Benchmarks page.")
        return 0
    is_likelihood = likelihood.is_likelihood(run_id)
    report = (likelihood.results(run_id) if is_likelihood else results(run_id)).to_json()
    report["data_left"] = endpoints.run_data_left(run_id)
    if args.json:
        print_json(report)
        return 0
    print(
        f"run {report['run_id']}: {report['status']}, "
        f"{report['progress']['done']}/{report['progress']['total']} items"
    )
    if report["data_left"]:
        print(report["data_left"])
    if not report["results"]:
        print("No answered questions yet." if not is_likelihood else "No scored units yet.")
        return 0
    (likelihood_cli.print_results if is_likelihood else _print_results)(report)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("suite", help="import and list question suites")
    suite_sub = p.add_subparsers(dest="suite_command", required=True)
    sp = suite_sub.add_parser("import", help="FastChat/MT-bench question.jsonl, or CSV/JSONL")
    sp.add_argument("path")
    sp.add_argument("--name", help="suite name (default: the file name)")
    sp.add_argument("--skip-invalid", action="store_true", help="import the valid rows only")
    sp.add_argument("--replace", action="store_true", help="overwrite a suite of that name")
    sp.add_argument(
        "--references",
        metavar="FILE",
        help="FastChat reference answers (reference_answer/gpt-4.jsonl) for the judge",
    )
    sp.set_defaults(func=cmd_suite_import)
    sp = suite_sub.add_parser("list")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_suite_list)

    p = sub.add_parser("run", help="benchmark: models x suite x refinement rounds, judged")
    p.add_argument("--suite")
    p.add_argument(
        "--measure",
        choices=likelihood_cli.MEASURES,
        default="answers",
        help="answers: generate, refine and judge (default); likelihood: score each "
        "multiple-choice option or reference answer, no generation (docs/likelihood.md)",
    )
    p.add_argument("--models", help="comma-separated names or unique prefixes")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    p.add_argument("--judge", help="judge model, or 'auto' for the largest local model")
    p.add_argument(
        "--limit", type=int, help="K questions spread over the categories (seeded by --sample-seed)"
    )
    p.add_argument("--sample-seed", type=int, default=0, help="which questions --limit draws")
    p.add_argument(
        "--stop-early",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="stop an answer's rounds once its critique finds nothing to fix (default: the "
        "paper's protocol, every round runs)",
    )
    p.add_argument("--categories", help="comma-separated categories")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    p.add_argument(
        "--stop", dest="stop_run", metavar="RUN_ID", help="stop a running run (it stays resumable)"
    )
    p.add_argument("--delete", metavar="RUN_ID", help="delete a run that is not running")
    p.add_argument("--list", action="store_true", help="list runs with status and progress")
    p.add_argument("--background", action="store_true", help="work in a background worker")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    add_sampling_args(p, max_tokens=384)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("results", help="per-model, per-category results of a run")
    p.add_argument("--run", help="run id (default: the newest benchmark or likelihood run)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_results)
