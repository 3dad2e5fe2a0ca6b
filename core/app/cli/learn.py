"""`perfics learn probe | code`: learning from labelled texts, headless.

`learn probe` trains an embedding probe on verified (or gold) labels and prints its held-out
metrics; `--list` and `--delete` manage saved probes. `learn code` codes a dataset with a
probe as a coding run that the Review queue and the Agreement page show."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

from core.app import context, learn
from core.app.cli import finetune as finetune_cli
from core.app.cli import learn_curve
from core.app.cli.common import print_json, work_or_launch
from core.engine.registry import resolve
from core.errors import InvalidRequest
from core.types.agreement import MetricValue
from core.types.classification import VerifyRule
from core.types.learning import PROBE_HEADLINE_METRICS, LabelSource, ProbeResult, ProbeSpec

HEADLINES = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
}


def register(sub) -> None:
    p = sub.add_parser(
        "learn", help="embedding probes and LoRA adapters trained on verified or gold labels"
    )
    lsub = p.add_subparsers(dest="learn_command", required=True)

    q = lsub.add_parser("probe", help="train an embedding probe; or list or delete probes")
    q.add_argument("--dataset")
    q.add_argument("--codebook")
    q.add_argument("--model", help="the GGUF model whose embeddings the probe reads")
    q.add_argument("--source", choices=[str(s) for s in LabelSource], default="verified")
    q.add_argument("--rule", choices=[str(r) for r in VerifyRule], default="one")
    q.add_argument("--name", help="the probe's name (default: model-codebook-source)")
    q.add_argument("--seed", type=int, default=0, help="for the split and the training subset")
    q.add_argument("--test-share", type=float, default=0.2, help="share held out for metrics")
    q.add_argument("--held-out", type=int, help="hold out this many texts instead")
    q.add_argument("--train-size", type=int, help="train on a seeded subset of this many")
    q.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    q.add_argument("--replace", action="store_true", help="replace a probe of that name")
    q.add_argument("--list", action="store_true", help="list saved probes instead")
    q.add_argument("--delete", metavar="NAME", help="delete a saved probe instead")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_probe)

    q = lsub.add_parser("code", help="code a dataset with a probe (a coding run)")
    q.add_argument("--probe", required=True, help="the probe's name")
    q.add_argument("--dataset", required=True)
    q.add_argument("--sample", type=int, help="code a seeded sample of this many texts")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--background", action="store_true", help="hand it to a background worker")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_code)

    finetune_cli.register(lsub)

    learn_curve.register(lsub)


@contextmanager
def _progress(quiet: bool):
    """A progress bar for the embedding, drawn from its first report on, so that a request
    refused before any text is embedded shows no empty bar."""
    from tqdm import tqdm

    bars = []

    def show(done: int, total: int, eta: float | None) -> None:
        if quiet:
            return
        if not bars:
            bars.append(tqdm(desc="embedding", unit="text", total=total, file=sys.stderr))
        bars[0].n = done
        bars[0].refresh()

    try:
        yield show
    finally:
        for bar in bars:
            bar.close()


def _value(metric: MetricValue) -> str:
    if metric.value is None:
        return f"n/a ({metric.reason}; n={metric.n})"
    interval = f" [95% CI {metric.low:.3f}–{metric.high:.3f}]" if metric.low is not None else ""
    return f"{metric.value:.3f}{interval} (n={metric.n})"


def _report(result: ProbeResult, as_json: bool) -> None:
    m = result.manifest
    if as_json:
        print_json(
            {
                **m.to_json(),
                "path": str(result.path),
                "overall": {k: v.__dict__ for k, v in result.metrics.overall.items()},
                "per_category": [c.as_row() for c in result.metrics.per_category],
            }
        )
        return
    print(f"probe {m.name}: {m.model} embeddings ({m.embedding_dim}-d), codebook {m.codebook}")
    print(
        f"  trained on {m.train_size} {m.source} texts, held out {m.held_out_size} "
        f"(seed {m.seed}); {len(m.classes)} labels"
        f"{', multi-label' if m.multi_label else ''}"
    )
    for key in PROBE_HEADLINE_METRICS:
        print(f"  held-out {HEADLINES[key]}: {_value(result.metrics.overall[key])}")
    print(f"  embedding {m.embed_seconds:.1f} s, fitting {m.fit_seconds:.2f} s")
    print(f"  saved in {result.path}")


def _probe(args: argparse.Namespace) -> int:
    if args.list:
        found = learn.probes()
        if args.json:
            print_json([m.to_json() for m in found])
        for m in [] if args.json else found:
            acc = m.metrics.get("accuracy")
            shown = _value(acc) if acc else "n/a"
            print(f"{m.name}: {m.model} · {m.codebook} · {m.source} · accuracy {shown}")
        if not found and not args.json:
            print("no probes")
        return 0
    if args.delete is not None:  # '' is a bad name, not no name
        learn.delete_probe(args.delete)
        print(f"probe {args.delete} deleted")
        return 0
    if not (args.dataset and args.codebook and args.model):
        raise InvalidRequest(
            "--dataset, --codebook and --model are needed to train a probe "
            "(or --list / --delete NAME)."
        )
    model = resolve(args.model, context.list_models())
    spec = ProbeSpec(
        name=args.name or learn.default_probe_name(model.name, args.codebook, args.source),
        dataset=args.dataset,
        codebook=args.codebook,
        model=model,
        source=LabelSource(args.source),
        rule=VerifyRule(args.rule),
        seed=args.seed,
        test_share=args.test_share,
        held_out=args.held_out,
        train_size=args.train_size,
        regularization=args.c,
    )
    with _progress(args.quiet or args.json) as show:
        result = learn.train_probe(spec, show, replace=args.replace)
    _report(result, args.json)
    return 0


def _code(args: argparse.Namespace) -> int:
    run_id = learn.create_probe_coding(args.probe, args.dataset, args.sample, args.seed)
    return work_or_launch(run_id, args, "text")
