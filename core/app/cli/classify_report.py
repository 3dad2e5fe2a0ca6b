"""The reading half of `perfics classify`: review-stats, agreement, metrics and export."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from core.app import classify, classify_results, context
from core.app.cli.common import print_json
from core.evaluation.agreement import pair_table
from core.evaluation.classification_metrics import category_table, overall_table
from core.types.agreement import MetricValue
from core.types.classification import VerifyRule


def _runs(args: argparse.Namespace) -> list[str] | None:
    run_ids = [r.strip() for r in args.runs.split(",") if r.strip()] if args.runs else None
    classify.check_runs(args.dataset, args.codebook, run_ids)
    return run_ids


def _value(v: MetricValue | None) -> str:
    if v is None or v.value is None:
        return f"n/a ({v.reason})" if v is not None and v.reason else "n/a"
    interval = f" [{v.low:.3f}, {v.high:.3f}]" if v.low is not None else ""
    return f"{v.value:.3f}{interval} (n={v.n})"


def review_stats(args: argparse.Namespace) -> int:
    context.store().init()
    _runs(args)  # accepted for symmetry with the other reports; an unknown id is still wrong
    progress = classify.review_stats(args.dataset, args.codebook, VerifyRule(args.rule))
    if args.json:
        print_json(asdict(progress))
        return 0
    print(
        f"coded {progress.coded_texts} texts; reviewed {progress.reviewed_texts} "
        f"({progress.unclear_texts} unclear); verified {progress.verified_texts} under rule "
        f"'{progress.rule}'; assigned for double coding {progress.assigned_texts}"
    )
    for reviewer, n in progress.decisions_by_reviewer.items():
        print(f"  {reviewer}: {n} decisions")
    return 0


def agreement(args: argparse.Namespace) -> int:
    context.store().init()
    report = classify_results.agreement(
        args.dataset, args.codebook, VerifyRule(args.rule), _runs(args)
    )
    if args.json:
        print_json(
            {
                "rule": str(report.rule),
                "multi_label": report.multi_label,
                "humans": [asdict(p) for p in report.humans],
                "humans_group": asdict(report.humans_group) if report.humans_group else None,
                "models_vs_verified": [asdict(p) for p in report.models_vs_verified],
                "models": [asdict(p) for p in report.models],
                "models_group": asdict(report.models_group) if report.models_group else None,
                "acceptance": [asdict(a) for a in report.acceptance],
            }
        )
        return 0
    print("Acceptance of each model's proposals by reviewers (Wilson 95% CI):")
    for a in report.acceptance:
        print(f"  {a.model:<48} {_value(a.rate)}")
    for title, pairs in (
        ("Cohen's kappa between reviewers", report.humans),
        ("Cohen's kappa, each model against the verified labels", report.models_vs_verified),
        ("Cohen's kappa between models", report.models),
    ):
        print(f"{title} (bootstrap 95% CI):")
        if not pairs:
            print("  (too few coders)")
        for p in pairs:
            print(f"  {p.coder_a} ~ {p.coder_b}: {_value(p.kappa)}")
    for title, group in (("reviewers", report.humans_group), ("models", report.models_group)):
        if group is not None:
            print(
                f"All {title}: Fleiss' kappa {_value(group.fleiss_kappa)}; "
                f"Krippendorff's alpha {_value(group.krippendorff_alpha)}"
            )
    return 0


def metrics(args: argparse.Namespace) -> int:
    context.store().init()
    found = classify_results.metrics(
        args.dataset, args.codebook, VerifyRule(args.rule), _runs(args), args.against, args.major
    )
    if args.json:
        print_json(
            {
                "against": args.against,
                "overall": overall_table(found).to_dict(orient="records"),
                "per_category": category_table(found).to_dict(orient="records"),
            }
        )
        return 0
    print(f"Against {args.against} labels (bootstrap 95% CIs over texts):")
    for m in found:
        print(f"{m.model} (n={m.n}, unanswered {m.unanswered})")
        for name, value in m.overall.items():
            print(f"  {name:<18} {_value(value)}")
    return 0


def export(args: argparse.Namespace) -> int:
    context.store().init()
    rows = classify_results.export(
        args.dataset,
        args.codebook,
        args.what,
        args.out,
        args.format,
        VerifyRule(args.rule),
        _runs(args),
        args.force,
        args.against,
    )
    if args.json:
        print_json({"what": args.what, "rows": rows, "out": str(args.out)})
    else:
        print(f"wrote {rows} rows to {args.out}")
    return 0


__all__ = ["agreement", "export", "metrics", "pair_table", "review_stats"]
