"""LoRA fine-tuning as a run (kind "finetune") in the background worker: plan it from
verified or gold labels, train, checkpoint, stop, resume, and write the adapter.

- Data: the labelled texts as probes read them (core/evaluation/probe.py: leaves of the
  codebook only), split once, seeded, into validation texts (`validation_share`) and a
  training pool; `train_size` takes a seeded subset of the pool. The run stores the exact
  text ids and a hash of their labels; a run whose labels changed since is refused, not
  silently trained on other data.
- Task: the workbench's zero-shot coding prompt, multi-label exactly when some text of the
  run has several labels (the rule probes use). Examples: core/evaluation/finetune_examples.py.
- Progress: one ft_steps row per optimiser step (loss, tokens, seconds); done / total steps,
  and the time left from the mean measured step. Validation loss at each checkpoint and at
  the end. A resumed run restarts at its newest checkpoint; the steps recorded after it are
  forgotten and redone, so the loss curve never holds a step twice.
- Result: `<models>/adapters/<name>/` (adapter.gguf and manifest.json, core/evaluation/
  adapter_files.py); the run's checkpoints (under the data folder) are removed once written.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from core.engine.footprint import peak_rss_mb
from core.engine.lora_gguf import GGUF_ARCHITECTURES
from core.engine.lora_trainer import total_steps
from core.engine.registry import require_local_file
from core.errors import InvalidRequest
from core.evaluation.adapter_files import check_adapter_name, write_adapter_folder
from core.evaluation.benchmark import OnProgress
from core.evaluation.coding import CodingTask
from core.evaluation.finetune_examples import CodingTokens, build_examples
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.probe import data_hash, labelled_texts, split_texts
from core.store import Store
from core.types import ModelInfo, RunKind, RunStatus
from core.types.classification import VerifyRule
from core.types.finetune import (
    AdapterManifest,
    FinetuneConfig,
    FinetuneSpec,
    LoraSettings,
)
from core.types.learning import LabelSource, ProbeSpec

Labelled = dict[str, tuple[str, ...]]


class Trainer(Protocol):
    """What a run needs of a trainer (core/engine/lora_trainer.LoraTrainer, or a fake)."""

    def prepare(self) -> int: ...

    def train(self, train, validation, on_step, on_validation, check_stop) -> None: ...

    def validation_loss(self, examples): ...

    def write_gguf(self, out: Path) -> None: ...


OpenTrainer = Callable[[ModelInfo, LoraSettings, Path], Trainer]
OpenTokens = Callable[[ModelInfo], AbstractContextManager[CodingTokens]]


def checkpoint_folder(checkpoints_root: Path, run_id: str) -> Path:
    return Path(checkpoints_root) / run_id


def _split_spec(spec: FinetuneSpec) -> ProbeSpec:
    """The probe split's parameters for this run: its validation texts play the held-out part."""
    return ProbeSpec(
        name=spec.name,
        dataset=spec.dataset,
        codebook=spec.codebook,
        model=spec.model,
        source=spec.source,
        rule=spec.rule,
        seed=spec.settings.seed,
        test_share=spec.settings.validation_share,
        train_size=spec.train_size,
    )


def unfinished_runs(store: Store, adapter: str) -> list[tuple[str, str]]:
    """(run id, status) of the runs that will write this adapter name but have not yet."""
    return [(r, s) for r, s in store.finetune.runs_writing(adapter) if s != RunStatus.COMPLETED]


def same_run(store: Store, config: FinetuneConfig) -> str | None:
    """An unfinished run planned exactly as `config` (same texts, labels, model and
    settings), which can be resumed instead of starting again."""
    for run_id, _ in unfinished_runs(store, config.adapter):
        if store.runs.get(run_id).config == config:
            return run_id
    return None


def _check_request(
    store: Store, spec: FinetuneSpec, adapters_dir: Path, unfinished_ok: bool = False
) -> None:
    check_adapter_name(spec.name)
    spec.settings.check()
    model = spec.model
    if not model.usable:
        raise InvalidRequest(f"{model.name} is unusable: {model.reason}")
    require_local_file(model, "LoRA fine-tuning")
    if getattr(model, "adapter_path", None):
        raise InvalidRequest(f"{model.name} already has an adapter; train on its base model.")
    if model.architecture not in set(GGUF_ARCHITECTURES.values()):
        supported = ", ".join(sorted(set(GGUF_ARCHITECTURES.values())))
        raise InvalidRequest(
            f"{model.name} is a {model.architecture} model; LoRA adapters can be trained for "
            f"{supported} models."
        )
    if spec.dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {spec.dataset!r}; import it first.")
    if (Path(adapters_dir) / spec.name).exists() and not spec.replace:
        raise InvalidRequest(
            f"An adapter named {spec.name!r} exists already; choose another name or replace it."
        )
    pending = [] if unfinished_ok else unfinished_runs(store, spec.name)
    if pending:
        run_id, status = pending[0]
        raise InvalidRequest(
            f"Run {run_id} ({status}) writes adapter {spec.name!r}; resume or delete it "
            "first, or choose another name."
        )


def _config(spec: FinetuneSpec, train: tuple, validation: tuple, labelled: Labelled):
    used = {t: labelled[t] for t in (*train, *validation)}
    return FinetuneConfig(
        adapter=spec.name,
        model=spec.model.name,
        model_sha256=spec.model.sha256 or "",
        dataset=spec.dataset,
        codebook=spec.codebook,
        source=str(spec.source),
        rule=str(spec.rule),
        train_ids=train,
        validation_ids=validation,
        data_hash=data_hash(used),
        settings=spec.settings,
    )


def plan_finetune(store: Store, spec: FinetuneSpec, adapters_dir: Path) -> FinetuneConfig:
    """The run's configuration: the labelled texts split, seeded, into training and
    validation texts (the training subset of `train_size` when given)."""
    _check_request(store, spec, adapters_dir)
    codebook = store.codebooks.get(spec.codebook)
    split = _split_spec(spec)
    labelled = labelled_texts(store, spec.dataset, codebook, split)
    if len(labelled) < 3:
        raise InvalidRequest(
            f"Fine-tuning needs at least 3 texts with {spec.source} labels of leaf codes "
            f"(training and validation); there are {len(labelled)}."
        )
    parts = split_texts(labelled, split)
    return _config(spec, parts.train, parts.held_out, labelled)


def plan_finetune_on(
    store: Store,
    spec: FinetuneSpec,
    adapters_dir: Path,
    train_ids: tuple[str, ...],
    validation_ids: tuple[str, ...] = (),
    unfinished_ok: bool = False,
) -> FinetuneConfig:
    """A run on exactly these texts (a learning curve's n training texts); each must carry a
    label of the spec's source. `unfinished_ok`: plan even while an unfinished run writes
    the same adapter (to find it with same_run and resume it)."""
    _check_request(store, spec, adapters_dir, unfinished_ok)
    codebook = store.codebooks.get(spec.codebook)
    labelled = labelled_texts(store, spec.dataset, codebook, _split_spec(spec))
    missing = sorted((set(train_ids) | set(validation_ids)) - set(labelled))
    if not train_ids or missing:
        raise InvalidRequest(
            f"Fine-tuning needs training texts with {spec.source} labels; "
            f"{len(missing)} given have none (e.g. {', '.join(missing[:3]) or '-'})."
        )
    return _config(spec, tuple(train_ids), tuple(validation_ids), labelled)


def create_finetune(store: Store, config: FinetuneConfig) -> str:
    steps = total_steps(len(config.train_ids), config.settings)
    return RunLifecycle.create(store, RunKind.FINETUNE, config, total_units=steps).id


def _run_labels(store: Store, config: FinetuneConfig, codebook) -> Labelled:
    """The run's texts' labels as stored now, refused when they differ from the plan's."""
    spec = ProbeSpec(
        name=config.adapter,
        dataset=config.dataset,
        codebook=config.codebook,
        model=None,  # labelled_texts reads the source and rule only
        source=LabelSource(config.source),
        rule=VerifyRule(config.rule),
    )
    labelled = labelled_texts(store, config.dataset, codebook, spec)
    ids = (*config.train_ids, *config.validation_ids)
    used = {t: labelled[t] for t in ids if t in labelled}
    if len(used) != len(ids) or data_hash(used) != config.data_hash:
        raise InvalidRequest(
            f"The {config.source} labels of this run's texts changed since it was planned; "
            "delete it and start a new one."
        )
    return used


def _examples(store, config, codebook, labelled, tokens) -> tuple[list, list]:
    multi_label = any(len(codes) > 1 for codes in labelled.values())
    task = CodingTask(codebook, multi_label=multi_label)
    ids = [*config.train_ids, *config.validation_ids]
    texts = {t.id: t.text for t in store.datasets.texts(config.dataset, ids)}
    max_tokens = config.settings.max_tokens
    train = build_examples(tokens, task, config.train_ids, texts, labelled, max_tokens)
    validation = build_examples(tokens, task, config.validation_ids, texts, labelled, max_tokens)
    return train, validation


def _manifest(store, run_id, config, model, codebook, started) -> AdapterManifest:
    totals = store.finetune.totals(run_id)
    last_epoch = max((s.epoch for s in store.finetune.steps(run_id)), default=0)
    validations = store.finetune.validations(run_id)
    return AdapterManifest(
        name=config.adapter,
        base_model=model.name,
        base_sha256=model.sha256 or "",
        architecture=model.architecture or "",
        dataset=config.dataset,
        codebook=config.codebook,
        codebook_codes=codebook.codes,
        data_hash=config.data_hash,
        train_size=len(config.train_ids),
        validation_size=len(config.validation_ids),
        settings=config.settings,
        steps=totals.steps,
        tokens_trained=totals.tokens,
        train_seconds=totals.seconds,
        wall_seconds=time.monotonic() - started,
        peak_rss_mb=peak_rss_mb(),
        final_train_loss=store.finetune.epoch_loss(run_id, last_epoch),
        validation_loss=validations[-1].loss if validations else None,
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _reporter(store: Store, run_id: str, total: int, on_progress: OnProgress):
    def on_step(step) -> None:
        store.finetune.record_step(run_id, step)
        if on_progress:
            done = store.finetune.totals(run_id)
            each = done.seconds_per_step
            on_progress(done.steps, total, each * (total - done.steps) if each else None)

    return on_step


def run_finetune(
    store: Store,
    run_id: str,
    model: ModelInfo,
    open_tokens: OpenTokens,
    open_trainer: OpenTrainer,
    adapters_dir: Path,
    checkpoints_root: Path,
    on_progress: OnProgress = None,
) -> RunStatus:
    """Work the run in this process: from its newest checkpoint (or the start) to the
    adapter on disk. `model` is the base model file as listed now."""
    started = time.monotonic()
    config: FinetuneConfig = store.runs.get(run_id).config
    run = RunLifecycle(store, run_id)
    with run.working():
        if (model.sha256 or "") != config.model_sha256:
            raise InvalidRequest(
                f"{model.name} is not the file this run was planned on (its SHA-256 changed); "
                "delete the run and start a new one."
            )
        codebook = store.codebooks.get(config.codebook)
        labelled = _run_labels(store, config, codebook)
        with open_tokens(model) as tokens:
            train, validation = _examples(store, config, codebook, labelled, tokens)
        run.check_stop()
        folder = checkpoint_folder(checkpoints_root, run_id)
        trainer = open_trainer(model, config.settings, folder)
        resumed = trainer.prepare()
        store.finetune.forget_after(run_id, resumed)
        total = total_steps(len(train), config.settings)
        on_step = _reporter(store, run_id, total, on_progress)
        if on_progress:
            on_progress(resumed, total, None)

        def on_validation(measured) -> None:
            store.finetune.record_validation(run_id, measured)

        trainer.train(train, validation, on_step, on_validation, run.check_stop)
        measured = {v.step for v in store.finetune.validations(run_id)}
        if validation and total not in measured:  # resumed after the last checkpoint
            on_validation(trainer.validation_loss(validation))
        manifest = _manifest(store, run_id, config, model, codebook, started)
        write_adapter_folder(adapters_dir, manifest, trainer.write_gguf, replace=True)
        shutil.rmtree(folder, ignore_errors=True)
        run.complete()
    return store.runs.get(run_id).status
