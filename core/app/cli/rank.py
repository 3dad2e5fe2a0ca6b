"""`perfics rank`: the PeRFICS ranking of models from stored runs."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from core.app import preferences
from core.app.cli.common import print_json
from core.app.ranking import measurements, rank_models
from core.errors import InvalidRequest
from core.ranking.perfics import PRESETS
from core.ranking.quality import UnreliableJudge
from core.ranking.tradeoffs import QUALITY_SOURCES
from core.types import COST_BASES, Weights

QUALITY_TEXT = {
    "answers": "quality from references first, then trusted judges",
    "likelihood": "quality from likelihood runs",
}
COLUMNS = [
    "rank",
    "model",
    "perfics",
    "performance",
    "baseline_performance",
    "gain",
    "gain_relative",
    "performance_source",
    "judge_verdict",
    "items",
    "quality_items",
    "cost",
    "memory_gb",
    "seconds_per_answer",
    "money_per_1000",
    "energy_kwh_per_1000",
    "tokens_per_s",
    "ttft_s",
    "on_pareto",
]


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
    hardware = preferences.hardware()  # the profile saved on the Costs page
    # Every column, even with nothing ranked yet, so --json always has the same shape.
    measured = measurements(args.run)
    try:
        ranking = rank_models(
            measured, hardware, weights, args.accept_unreliable_judge, args.quality
        )
    except UnreliableJudge as exc:
        if not args.json:
            raise
        # --json keeps one shape for scripts: the refusal, the judges and no models.
        judges = {name: r.to_json() for name, r in measured.judges.items()}
        print_json({"error": str(exc), "judges": judges, "notes": [], "models": []})
        return 1
    ranked = ranking.ranked.reindex(columns=COLUMNS)
    if args.json:
        print_json(
            {
                "weights": asdict(weights),
                "hardware": asdict(hardware),
                "judges": {name: r.to_json() for name, r in ranking.judges.items()},
                "notes": ranking.quality.notes,
                # NaN (a gain likelihood does not measure) is no JSON value: null instead.
                "models": ranked.astype(object).where(ranked.notna(), None).to_dict("records"),
            }
        )
        return 0
    for name, reliability in ranking.judges.items():
        print(f"judge {name}: {reliability.label()}")
    for note in ranking.quality.notes:
        print(f"note: {note}")
    if ranked.empty:
        print("Nothing to rank yet: run a benchmark first (perfics run ...).")
        return 0
    print(
        f"weights P={weights.performance} R={weights.refinement} C={weights.cost}, "
        f"cost basis {weights.basis}; {QUALITY_TEXT[args.quality or measured.default_source]}; "
        f"money in {hardware.currency} ({hardware.name})"
    )
    print(ranked.round(3).to_string(index=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rank", help="PeRFICS ranking of models from stored runs")
    p.add_argument(
        "--run", help="one benchmark or likelihood run for what it measures (default: all runs)"
    )
    p.add_argument(
        "--quality",
        choices=QUALITY_SOURCES,
        help="answers: reference checks first, then trusted judges; likelihood: likelihood "
        "runs (default: likelihood when --run is a likelihood run, else answers)",
    )
    p.add_argument("--preset", help=f"one of {', '.join(PRESETS)}")
    p.add_argument("--weights", help="P,R,C: performance, refinement and cost weights")
    p.add_argument("--cost-basis", choices=COST_BASES)
    p.add_argument(
        "--accept-unreliable-judge",
        action="store_true",
        help="rank on a judge the reliability rule calls unusable (docs/judging.md)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rank)
