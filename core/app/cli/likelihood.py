"""`perfics run --measure likelihood` and `perfics results` for a likelihood run."""

from __future__ import annotations

import argparse
import sys

from core.app import context, likelihood
from core.app.formatting import duration, estimate
from core.errors import InvalidRequest
from core.types import LikelihoodSpec

MEASURES = ("answers", "likelihood")


def likelihood_spec(args: argparse.Namespace) -> LikelihoodSpec:
    """The likelihood run the flags ask for; flags that only answers use are refused rather
    than silently ignored."""
    if not args.suite or not args.models:
        raise InvalidRequest("--suite and --models are needed to start a run")
    if args.judge or args.stop_early:
        flag = "--judge" if args.judge else "--stop-early"
        raise InvalidRequest(
            f"{flag} has no part in a likelihood run: nothing is generated or judged."
        )
    pool = context.backend_pool()
    return LikelihoodSpec(
        suite=args.suite,
        models=tuple(pool.info(n.strip()) for n in args.models.split(",") if n.strip()),
        limit=args.limit,
        categories=tuple(c.strip() for c in (args.categories or "").split(",") if c.strip()),
        sample_seed=args.sample_seed,
    )


def create_run(args: argparse.Namespace) -> str:
    spec = likelihood_spec(args)
    plan = likelihood.plan(spec)
    took = f", about {duration(plan.seconds)}" if plan.seconds else ""
    print(
        f"likelihood: {plan.units} units ({plan.mc_units} multiple-choice, "
        f"{plan.reference_units} reference answers) on {plan.questions} questions{took}",
        file=sys.stderr,
    )
    if plan.left_out:
        print(
            f"{plan.left_out} question(s) have neither choices nor a reference answer and are "
            "left out",
            file=sys.stderr,
        )
    return likelihood.create(spec)


def print_results(report: dict) -> None:
    rows = report["results"]
    print(f"framing {report['framing']} (docs/likelihood.md); 95% intervals, n per figure")
    if any(r["mc_items"] for r in rows):
        print("multiple choice: accuracy by summed log-prob (acc) and per character (acc_norm):")
        for r in rows:
            if r["mc_items"]:
                print(
                    f"  {r['model']:<32} {r['category']:<15} acc "
                    f"{estimate(r, 'mc_accuracy')}  acc_norm {estimate(r, 'mc_accuracy_norm')}"
                    f"  chance {r['chance']:.2f}"
                )
    if any(r["reference_items"] for r in rows):
        print("reference answers: score 2^-bpb (mean per answer) and bits per byte (pooled):")
        for r in rows:
            if r["reference_items"]:
                print(
                    f"  {r['model']:<32} {r['category']:<15} score "
                    f"{estimate(r, 'reference_score')}  bpb {r['reference_bits_per_byte']:.3f}"
                )
    failed = sum(r["failed_items"] for r in rows if r["category"] == "all")
    if failed:
        print(f"{failed} unit(s) failed; their errors are in `perfics export run_items`")
