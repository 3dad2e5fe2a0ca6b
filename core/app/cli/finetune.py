"""`perfics learn finetune | adapters`: LoRA fine-tuning on verified (or gold) labels, and the
adapters it writes under models/adapters/.

`learn finetune` trains in this process with a progress bar (loss and time left), or hands
the run to a background worker (--background); `--resume RUN_ID` continues a stopped run
from its newest checkpoint. Stop or delete a run with `perfics run --stop | --delete`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from core.app import context, finetune, worker
from core.app.cli.common import print_json, work_or_launch
from core.engine.registry import resolve
from core.errors import InvalidRequest
from core.types import RunKind, RunStatus
from core.types.classification import VerifyRule
from core.types.finetune import AdapterManifest, FinetuneSpec, LoraSettings
from core.types.learning import LabelSource

HELP = {
    "rank": "LoRA rank r",
    "alpha": "LoRA alpha (the update is scaled by alpha / rank)",
    "dropout": "dropout on the LoRA input",
    "epochs": "passes over the training texts",
    "learning_rate": "AdamW learning rate",
    "batch_size": "texts per optimiser step",
    "max_tokens": "longest example; longer texts are cut, never the answer",
    "validation_share": "share of the labelled texts held back to measure loss",
    "seed": "for the split, the training subset, the shuffles and the adapter's start",
    "checkpoint_every": "optimiser steps between checkpoints (resume restarts there)",
    "threads": "torch threads (resume with the same number for identical losses)",
}


def register(lsub) -> None:
    q = lsub.add_parser("finetune", help="train a LoRA adapter on verified or gold labels")
    q.add_argument("--dataset")
    q.add_argument("--codebook")
    q.add_argument("--model", help="the base GGUF model")
    q.add_argument("--name", help="the adapter's name (default: codebook-source-lora)")
    q.add_argument("--source", choices=[str(s) for s in LabelSource], default="verified")
    q.add_argument("--rule", choices=[str(r) for r in VerifyRule], default="one")
    q.add_argument("--train-size", type=int, help="train on a seeded subset of this many")
    defaults = LoraSettings()
    for f in fields(LoraSettings):
        value = getattr(defaults, f.name)
        q.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(value),
            default=value,
            help=f"{HELP[f.name]} (default {value})",
        )
    q.add_argument("--replace", action="store_true", help="replace an adapter of that name")
    q.add_argument("--resume", metavar="RUN_ID", help="continue a stopped or failed run")
    q.add_argument("--background", action="store_true", help="hand it to a background worker")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_finetune)

    q = lsub.add_parser("adapters", help="list LoRA adapters, or delete one")
    q.add_argument("--delete", metavar="NAME", help="delete this adapter")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_adapters)


def _spec(args: argparse.Namespace) -> FinetuneSpec:
    if not (args.dataset and args.codebook and args.model):
        raise InvalidRequest(
            "--dataset, --codebook and --model are needed to fine-tune (or --resume RUN_ID)."
        )
    model = resolve(args.model, context.list_models())
    settings = LoraSettings(**{f.name: getattr(args, f.name) for f in fields(LoraSettings)})
    source = LabelSource(args.source)
    return FinetuneSpec(
        name=args.name or finetune.default_adapter_name(args.codebook, source),
        dataset=args.dataset,
        codebook=args.codebook,
        model=model,
        source=source,
        rule=VerifyRule(args.rule),
        train_size=args.train_size,
        settings=settings,
        replace=args.replace,
    )


def _resumable(run_id: str) -> None:
    from core.app import runs

    record = context.store().runs.get(run_id)
    if record.kind != RunKind.FINETUNE:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a fine-tuning run.")
    if record.status == RunStatus.COMPLETED:
        raise InvalidRequest(f"Run {run_id} is already completed.")
    runs.prepare_resume(run_id)


def _work_here(run_id: str, quiet: bool) -> RunStatus:
    from tqdm import tqdm

    with tqdm(desc="steps", unit="step", file=sys.stderr, disable=quiet) as bar:

        def show(done: int, total: int, eta: float | None) -> None:
            bar.total = total
            bar.n = done
            steps = finetune.loss_curve(run_id).steps if done else ()
            if steps:
                bar.set_postfix(loss=f"{steps[-1].loss:.3f}", refresh=False)
            bar.refresh()

        return worker.work(run_id, show)


def _summary(m: AdapterManifest) -> None:
    speed = m.tokens_per_second
    print(f"adapter {m.name}: LoRA r={m.settings.rank} on {m.base_model}, codebook {m.codebook}")
    print(
        f"  {m.train_size} training and {m.validation_size} validation texts; "
        f"{m.steps} step{'s' if m.steps != 1 else ''}, "
        f"{m.tokens_trained} tokens in {m.train_seconds:.1f} s"
        + (f" ({speed:.0f} tokens/s)" if speed else "")
    )
    val = f"{m.validation_loss:.4f}" if m.validation_loss is not None else "n/a"
    final = f"{m.final_train_loss:.4f}" if m.final_train_loss is not None else "n/a"
    print(f"  final training loss {final}, validation loss {val}")
    print(f"  saved in {finetune.adapters_dir() / m.name}; use it as {m.base_model}+{m.name}")


def _finetune(args: argparse.Namespace) -> int:
    finetune.require_training()  # first: listing the models below loads OpenMP
    if args.resume:
        run_id = args.resume
        _resumable(run_id)
    else:
        spec = _spec(args)
        run_id = finetune.create(spec)
        config = context.store().runs.get(run_id).config
        print(
            f"fine-tuning {spec.model.name} on {len(config.train_ids)} texts "
            f"({len(config.validation_ids)} for validation) as adapter {spec.name}",
            file=sys.stderr,
        )
    if args.background:
        return work_or_launch(run_id, args, "step")
    print(f"run {run_id}", file=sys.stderr, flush=True)
    status = _work_here(run_id, args.quiet or args.json)
    config = context.store().runs.get(run_id).config
    manifest = finetune.adapter_manifest(config.adapter) if status == RunStatus.COMPLETED else None
    if args.json:
        print_json(
            {"run_id": run_id, "status": str(status), "adapter": manifest and manifest.to_json()}
        )
    elif manifest:
        _summary(manifest)
    else:
        print(f"run {run_id} {status}")
    return 0


def _adapters(args: argparse.Namespace) -> int:
    if args.delete is not None:  # '' is a bad name, not no name
        finetune.delete_adapter(args.delete)
        print(f"adapter {args.delete} deleted")
        return 0
    found = finetune.adapters()
    if args.json:
        print_json([m.to_json() for m in found])
        return 0
    for m in found:
        val = f"{m.validation_loss:.3f}" if m.validation_loss is not None else "n/a"
        print(
            f"{m.base_model}+{m.name}: {m.codebook} · {m.train_size} texts · r={m.settings.rank} "
            f"· {m.steps} steps · validation loss {val}"
        )
    if not found:
        print("no adapters")
    return 0
