"""`perfics learn curve | compare`: learning curves, headless.

`learn curve` measures k-shot prompting, an embedding probe (and LoRA, once wired) on one
held-out set after learning from n labelled texts, in this process or in the background;
`--show RUN` prints a curve's table and `--resume RUN` continues one. `learn compare RUN`
compares the methods at one n with their cost and ranks them by PeRFICS."""

from __future__ import annotations

import argparse
import sys

from core.app import context, learn_curve, runs
from core.app.cli.common import print_json, work_or_launch
from core.app.cli.rank import parse_weights
from core.engine.registry import resolve
from core.engine.training_packages import prefer_passive_openmp
from core.errors import InvalidRequest
from core.ranking.learning import candidate
from core.ranking.perfics import PRESETS
from core.types import RunStatus
from core.types.agreement import OVERALL_METRICS
from core.types.classification import VerifyRule
from core.types.curves import (
    CURVE_HEADLINE_METRICS,
    DEFAULT_METHODS,
    DEFAULT_REPEATS,
    DEFAULT_SHOTS,
    DEFAULT_SIZES,
    CompareReport,
    CurveMethod,
    CurveSpec,
)
from core.types.learning import LabelSource

ALL = "all"
PRESET = "quality-coding"  # classification: quality first, cost by money
SHORT = {"accuracy": "acc", "macro_f1": "macro-F1", "balanced_accuracy": "bal-acc"}


def register(lsub) -> None:
    q = lsub.add_parser("curve", help="a learning curve: methods x models x training sizes")
    q.add_argument("--dataset")
    q.add_argument("--codebook")
    q.add_argument("--models", help="comma-separated model names")
    q.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated, of {', '.join(CurveMethod)} (default: %(default)s)",
    )
    q.add_argument(
        "--sizes",
        default=",".join([*map(str, DEFAULT_SIZES), ALL]),
        help="training sizes n, comma-separated; 'all' is the whole pool (default: %(default)s)",
    )
    q.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="seeded subsamples per n")
    q.add_argument("--held-out", type=int, help="texts held out (default: --test-share of them)")
    q.add_argument("--test-share", type=float, default=0.2)
    q.add_argument("--seed", type=int, default=0, help="for the split, orders and examples")
    q.add_argument("--k", type=int, default=DEFAULT_SHOTS, help="examples of the k-shot method")
    q.add_argument("--source", choices=[str(s) for s in LabelSource], default="verified")
    q.add_argument("--rule", choices=[str(r) for r in VerifyRule], default="one")
    q.add_argument("--c", type=float, default=1.0, help="the probe's inverse regularisation")
    q.add_argument("--show", metavar="RUN", help="print a curve's table instead")
    q.add_argument("--resume", metavar="RUN", help="continue a stopped or failed curve")
    q.add_argument("--metrics", default=",".join(CURVE_HEADLINE_METRICS), help="for --show")
    q.add_argument("--background", action="store_true", help="hand it to a background worker")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_curve)

    q = lsub.add_parser("compare", help="a curve's methods at one n, with cost, ranked")
    q.add_argument("run", metavar="RUN")
    q.add_argument("--n", type=int, help="training size (default: the largest measured)")
    q.add_argument("--metric", choices=OVERALL_METRICS, default="macro_f1", help="P of PeRFICS")
    q.add_argument(
        "--preset", help=f"PeRFICS weights: one of {', '.join(PRESETS)} (default: {PRESET})"
    )
    q.add_argument("--weights", help="P,R,C (R weighs the gain over zero-shot)")
    q.add_argument("--cost-basis", choices=["latency", "money"], default="money")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_compare)


def _list(text: str | None, what: str) -> list[str]:
    items = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not items:
        raise InvalidRequest(f"--{what} needs at least one value.")
    return items


def parse_sizes(text: str) -> tuple[tuple[int, ...], bool]:
    """'0,8,all' -> ((0, 8), True): the sizes and whether the whole pool is one of them."""
    sizes, include_all = [], False
    for part in _list(text, "sizes"):
        if part.lower() == ALL:
            include_all = True
            continue
        try:
            sizes.append(int(part))
        except ValueError:
            raise InvalidRequest(f"--sizes takes whole numbers and 'all'; got {part!r}.") from None
    return tuple(sizes), include_all


def parse_methods(text: str) -> tuple[CurveMethod, ...]:
    known = {str(m): m for m in CurveMethod}
    methods = _list(text, "methods")
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise InvalidRequest(
            f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(known)}."
        )
    return tuple(known[m] for m in methods)


def _spec(args: argparse.Namespace) -> CurveSpec:
    if not (args.dataset and args.codebook and args.models):
        raise InvalidRequest(
            "--dataset, --codebook and --models are needed for a curve "
            "(or --show RUN / --resume RUN)."
        )
    if "lora" in (args.methods or ""):
        prefer_passive_openmp()  # before listing models loads llama.cpp, and OpenMP with it
    available = context.list_models()
    sizes, include_all = parse_sizes(args.sizes)
    return CurveSpec(
        dataset=args.dataset,
        codebook=args.codebook,
        models=tuple(resolve(name, available) for name in _list(args.models, "models")),
        methods=parse_methods(args.methods),
        sizes=sizes,
        include_all=include_all,
        repeats=args.repeats,
        shots=args.k,
        source=LabelSource(args.source),
        rule=VerifyRule(args.rule),
        seed=args.seed,
        test_share=args.test_share,
        held_out=args.held_out,
        regularization=args.c,
    )


def _missing(x) -> bool:
    return x is None or x != x  # None or NaN


def _interval(value, low, high) -> str:
    if _missing(value):
        return "n/a"
    if _missing(low) or _missing(high):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _show(run_id: str, metrics: tuple[str, ...], as_json: bool) -> int:
    unknown = [m for m in metrics if m not in OVERALL_METRICS]
    if unknown:
        raise InvalidRequest(f"Unknown metric(s) {', '.join(unknown)}.")
    config = learn_curve.curve_config(run_id)
    table = learn_curve.table(run_id, metrics)
    failed = learn_curve.failures(run_id)
    state = learn_curve.progress(run_id)
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "status": state.status,
                "done": state.done,
                "total": state.total,
                "held_out": len(config.held_out_ids),
                "pool": config.pool_size,
                "repeats": config.repeats,
                "rows": table.astype(object).where(table.notna(), None).to_dict("records"),
                "failures": failed.to_dict("records"),
            }
        )
        return 0
    print(
        f"curve {run_id} ({state.status}, {state.done} of {state.total} points): "
        f"{config.dataset} · {config.codebook} · {config.source} labels; "
        f"{len(config.held_out_ids)} held-out texts, pool {config.pool_size}, "
        f"{config.repeats} repeat(s), k = {config.shots}"
    )
    print("  mean over repeats [95% CI: t across repeats, or bootstrap over texts if one]")
    for r in table.itertuples():
        values = "  ".join(
            f"{SHORT.get(m, m)} "
            + _interval(getattr(r, m), getattr(r, f"{m}_low"), getattr(r, f"{m}_high"))
            for m in metrics
        )
        why = f"  ({r.reason})" if isinstance(r.reason, str) and r.repeats == 0 else ""
        print(
            f"  {r.model} · {r.method} n={r.n_train} (repeats {r.repeats}, texts {r.n_texts}): "
            f"{values}  train {r.train_seconds:.1f} s, code {r.code_seconds:.1f} s{why}"
        )
    for f in failed[failed.status == "failed"].itertuples():
        print(f"  failed: {f.model} · {f.point}: {f.reason}")
    return 0


def _curve(args: argparse.Namespace) -> int:
    context.store().init()
    if args.show:
        return _show(args.show, tuple(_list(args.metrics, "metrics")), args.json)
    if args.resume:
        run_id = args.resume
        learn_curve.curve_config(run_id)  # a clear error for another kind of run
        if context.store().runs.get(run_id).status == RunStatus.COMPLETED:
            print(f"curve {run_id} is already completed", file=sys.stderr)
            return 0
        runs.prepare_resume(run_id)
    else:
        context.store().init(write=True)  # a read-only store is refused before the plan
        spec = _spec(args)
        config, points = learn_curve.plan(spec)
        print(
            f"curve: {len(config.held_out_ids)} held-out texts, pool {config.pool_size}, "
            f"n = {', '.join(map(str, config.sizes))}; {points} points",
            file=sys.stderr,
        )
        run_id = learn_curve.create_curve(spec)
    code = work_or_launch(run_id, args, "point")
    if not (args.background or args.json):
        _show(run_id, CURVE_HEADLINE_METRICS, False)
    return code


def _compare_json(report: CompareReport, ranked) -> dict:
    return {
        "run_id": report.run_id,
        "dataset": report.dataset,
        "codebook": report.codebook,
        "currency": report.currency,
        "hardware": report.hardware,
        "threads": report.threads,
        "rows": [r.as_row() for r in report.rows],
        "ranking": ranked.astype(object).where(ranked.notna(), None).to_dict("records"),
    }


def _compare(args: argparse.Namespace) -> int:
    report = learn_curve.compare(args.run, args.n)  # refuses a run that is no curve
    if not (args.preset or args.weights):
        args.preset = PRESET
    weights = parse_weights(args)
    ranked = learn_curve.ranked(report, weights, args.metric)
    if args.json:
        print_json(_compare_json(report, ranked))
        return 0
    cur = report.currency
    print(
        f"compare {report.run_id}: {report.dataset} · {report.codebook}; costs on "
        f"“{report.hardware}” in {cur}"
    )
    for r in report.rows:
        m = r.metrics.get(args.metric)
        quality = _interval(m.value, m.low, m.high) if m else "n/a"
        coding = (
            f"{r.seconds_per_text:.3g} s/text, {r.money_per_1000:.3g} {cur} and "
            f"{r.energy_kwh_per_1000:.3g} kWh per 1,000 texts"
            if r.seconds_per_text
            else "not coded"
        )
        training = (
            f"training {r.train_seconds:.3g} s = {r.train_cpu_hours:.3g} CPU-h, "
            f"{r.train_energy_kwh:.3g} kWh, {r.train_money:.3g} {cur}"
            if r.train_seconds
            else "no training"
        )
        print(
            f"  {candidate(r)}: {args.metric} {quality} (n={m.n if m else 0}, repeats "
            f"{r.repeats}); {coding}; {training}"
        )
    if not ranked.empty:
        print(
            f"  PeRFICS ({weights.basis}): "
            + ", ".join(f"{int(x.rank)}. {x.model} {x.perfics:.3f}" for x in ranked.itertuples())
        )
    return 0
