"""`perfics classify import | codebook | run | review-stats | agreement | metrics | export`:
the classification workbench, headless. Reviewing itself happens on the Review page."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from core.app import classify, context, runs
from core.app.cli import classify_report
from core.app.cli.common import print_json, work_or_launch
from core.app.formatting import duration
from core.errors import InvalidRequest
from core.types import RunKind, RunStatus
from core.types.classification import CodingSpec, DatasetColumns, VerifyRule

RULES = [str(r) for r in VerifyRule]


def register(sub) -> None:
    p = sub.add_parser("classify", help="datasets, codebooks, LLM coding, agreement, metrics")
    csub = p.add_subparsers(dest="classify_command", required=True)

    q = csub.add_parser("import", help="import texts from CSV, JSONL, Parquet or Excel")
    q.add_argument("file", type=Path, nargs="?")  # optional so that --list works alone
    q.add_argument("--name", help="the dataset's name")
    q.add_argument("--id-column")
    q.add_argument("--text-column")
    q.add_argument("--gold-column", help="human labels (codes or names), optional")
    q.add_argument("--intensity-column", help="low/medium/high per gold label, optional")
    q.add_argument("--separator", default=";", help="between several labels in one cell")
    q.add_argument("--sheet", help="the Excel sheet (default: the first)")
    q.add_argument("--skip-invalid", action="store_true", help="import the valid rows only")
    q.add_argument("--replace", action="store_true", help="replace a dataset of that name")
    q.add_argument("--list", action="store_true", help="list datasets instead")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_import)

    q = csub.add_parser("codebook", help="import a codebook from CSV, Excel or JSON; or show one")
    q.add_argument("file", type=Path, nargs="?")
    q.add_argument("--name", help="the codebook's name (to import or to show)")
    q.add_argument("--skip-invalid", action="store_true")
    q.add_argument("--replace", action="store_true")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_codebook)

    q = csub.add_parser("run", help="models code a dataset (in this process unless --background)")
    q.add_argument("--dataset", help="dataset to code")
    q.add_argument("--codebook", help="codebook to code with")
    q.add_argument("--models", help="comma-separated model names")
    q.add_argument("--shots", type=int, default=0, help="k examples from verified/gold labels")
    q.add_argument("--multi-label", action="store_true", help="a JSON list of labels per text")
    q.add_argument("--intensities", action="store_true", help="rate each label low/medium/high")
    q.add_argument("--sample", type=int, help="code a seeded sample of this many texts")
    q.add_argument("--seed", type=int, default=0, help="for the sample and the examples")
    q.add_argument("--resume", metavar="RUN_ID", help="continue a stopped or failed run")
    q.add_argument("--background", action="store_true", help="hand it to a background worker")
    q.add_argument("--list", action="store_true", help="list coding runs instead")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_run)

    for name, func, text in (
        ("review-stats", classify_report.review_stats, "how far review has come"),
        ("agreement", classify_report.agreement, "agreement between reviewers and models"),
        ("metrics", classify_report.metrics, "each coder's metrics against verified/gold"),
        ("export", classify_report.export, "the verified set, or agreement/metric tables"),
    ):
        q = csub.add_parser(name, help=text)
        q.add_argument("--dataset", required=True)
        q.add_argument("--codebook", required=True)
        q.add_argument("--rule", choices=RULES, default="one", help="when a text is verified")
        q.add_argument("--runs", help="comma-separated coding run ids (default: all)")
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=func)
        if name in ("metrics", "export"):
            q.add_argument(
                "--against", choices=("verified", "gold"), default="verified", help="reference"
            )
        if name == "metrics":
            q.add_argument("--major", action="store_true", help="roll labels up to parents")
        if name == "export":
            q.add_argument(
                "--what",
                choices=("verified", "finetune", "agreement", "metrics"),
                default="verified",
                help="finetune: chat-format JSONL with the coding prompt",
            )
            q.add_argument("--format", choices=("csv", "parquet", "jsonl"), default="csv")
            q.add_argument("--out", type=Path, required=True)
            q.add_argument("--force", action="store_true", help="overwrite an existing file")


def _listing(table: pd.DataFrame, args: argparse.Namespace, none: str) -> int:
    """Print a listing (datasets, codebooks, runs) as a table, or as JSON records."""
    if args.json:
        print_json(table.to_dict(orient="records"))
    else:
        print(table.to_string(index=False) if not table.empty else none)
    return 0


def _import(args: argparse.Namespace) -> int:
    context.store().init()
    if args.list:
        return _listing(classify.datasets(), args, "no datasets")
    if not (args.file and args.name and args.id_column and args.text_column):
        raise InvalidRequest(
            "FILE, --name, --id-column and --text-column are needed to import a dataset "
            "(or --list to list them)."
        )
    columns = DatasetColumns(
        args.id_column, args.text_column, args.gold_column, args.intensity_column, args.separator
    )
    stored, skipped = classify.import_dataset(
        args.file, args.name, columns, args.skip_invalid, args.replace, sheet=args.sheet
    )
    for error in skipped:
        print(f"skipped {error}", file=sys.stderr)
    info = context.store().datasets.info(args.name.strip())
    if args.json:
        print_json({**asdict(info), "skipped": [str(e) for e in skipped]})
    else:
        print(
            f"dataset {info.name}: {info.texts} texts, {info.gold_texts} with gold labels"
            f"{' (multi-label)' if info.multi_label else ''}; {len(skipped)} row(s) skipped"
        )
    return 0


def _codebook(args: argparse.Namespace) -> int:
    context.store().init()
    if args.file is not None:
        if not args.name:
            raise InvalidRequest("--name is needed to import a codebook")
        stored, skipped = classify.import_codebook(
            args.file, args.name, args.skip_invalid, args.replace
        )
        for error in skipped:
            print(f"skipped {error}", file=sys.stderr)
        print(f"codebook {args.name.strip()}: {stored} labels", file=sys.stderr)
    if not args.name:
        return _listing(classify.codebooks(), args, "no codebooks")
    book = classify.codebook(args.name.strip())
    if args.json:
        print_json(asdict(book))
    else:
        for label in book.labels:
            parent = f" (under {label.parent})" if label.parent else ""
            print(f"{label.code:>8}  {label.name}{parent}  {label.description}".rstrip())
    return 0


def _spec(args: argparse.Namespace) -> CodingSpec:
    if not (args.dataset and args.codebook and args.models):
        raise InvalidRequest("--dataset, --codebook and --models are needed to start a run")
    pool = context.backend_pool()
    return CodingSpec(
        dataset=args.dataset,
        codebook=args.codebook,
        models=tuple(pool.info(n.strip()) for n in args.models.split(",") if n.strip()),
        shots=args.shots,
        multi_label=args.multi_label,
        intensities=args.intensities,
        sample=args.sample,
        seed=args.seed,
    )


def _run(args: argparse.Namespace) -> int:
    context.store().init()
    if args.list:
        return _listing(classify.runs(), args, "no coding runs")
    if args.resume:
        run_id = args.resume
        record = context.store().runs.get(run_id)
        if record.kind != RunKind.CODING:
            raise InvalidRequest(
                f"Run {run_id} is a {record.kind} run, not a coding run; "
                "resume it with `perfics run --resume`."
            )
        if record.status == RunStatus.COMPLETED:
            print(f"run {run_id} is already completed", file=sys.stderr)
            return 0
        runs.prepare_resume(run_id)
    else:
        context.store().init(write=True)  # a read-only store is refused before the plan
        spec = _spec(args)
        texts, units, seconds = classify.plan(spec)
        took = f", about {duration(seconds)}" if seconds else ""
        print(
            f"coding: {texts} texts x {len(spec.models)} model(s) = {units} units{took}",
            file=sys.stderr,
        )
        run_id = classify.create(spec)
    return work_or_launch(run_id, args, "text")
