"""Use cases of LoRA fine-tuning, shared by the CLI, the pages and the learning curve: plan and
start a run, work it here or in the background worker, follow its loss curve, and list or
delete the adapters it writes.

Adapters live under `<models>/adapters/<name>/`, where the registry lists them as
"<base>+<name>"; checkpoints under `<data dir>/finetune/<run id>/`. Training needs the
optional [train] packages; everything else here works without them, and starting a run
without them says how to add them (`pip install -e '.[train]'`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.app import context, worker
from core.engine.lora_gguf import GGUF_ARCHITECTURES
from core.engine.lora_trainer import total_steps
from core.engine.training_packages import prefer_passive_openmp, require_training_packages
from core.errors import InvalidRequest, TrainingUnavailable
from core.evaluation import adapter_files
from core.evaluation.benchmark import OnProgress
from core.evaluation.finetune_examples import CodingTokens
from core.evaluation.finetune_run import (
    checkpoint_folder,
    create_finetune,
    plan_finetune,
    plan_finetune_on,
    run_finetune,
    same_run,
)
from core.store import Store
from core.types import ModelInfo, RunKind, RunState, RunStatus
from core.types.agreement import MetricValue
from core.types.classification import VerifyRule
from core.types.finetune import (
    ADAPTERS_FOLDER,
    AdapterManifest,
    FinetuneConfig,
    FinetuneSpec,
    FinetuneStep,
    FinetuneValidation,
    LoraSettings,
)
from core.types.learning import LabelSource


def default_adapter_name(codebook: str, source: str) -> str:
    """A folder-safe name from the codebook and label source; listed as "<base>+<name>"."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{codebook}-{source}-lora").strip("-._")
    return name[:80]


def adapters_dir() -> Path:
    return context.settings().models_dir / ADAPTERS_FOLDER


def checkpoints_root() -> Path:
    return context.settings().db.parent / "finetune"


@contextmanager
def _coding_tokens(model: ModelInfo) -> Iterator[CodingTokens]:
    """llama.cpp's own tokens for the coding prompt (the model is loaded, used, closed)."""
    from core.engine.coding_tokens import LlamaCodingTokens
    from core.engine.llama import LlamaBackend

    backend = LlamaBackend(model, n_ctx=512, threads=context.settings().threads)
    try:
        yield LlamaCodingTokens(backend)
    finally:
        backend.close()


def _open_trainer(model: ModelInfo, settings: LoraSettings, folder: Path):
    from core.engine.lora_trainer import LoraTrainer, load_base_model

    return LoraTrainer(load_base_model(model.path, settings.threads), settings, folder)


def require_training() -> None:
    """Refuse, saying how to add them, when the [train] packages are missing; and, in a
    process about to train, keep torch fast beside other busy processes (call it before
    listing models)."""
    prefer_passive_openmp()
    require_training_packages()


def training_unavailable() -> str | None:
    """Why training cannot start here, saying how to add the [train] packages; None when it
    can. Imports none of them (for a page that decides whether to offer training)."""
    try:
        require_training_packages()
    except TrainingUnavailable as exc:
        return str(exc)
    return None


def trainable(models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """The usable model files (not base+adapter pairs) of an architecture adapters are
    trained for."""
    kinds = set(GGUF_ARCHITECTURES.values())
    return [m for m in models if m.usable and not m.is_adapter and m.architecture in kinds]


@dataclass(frozen=True)
class FinetunePlan:
    train_texts: int
    validation_texts: int
    steps: int


def plan(spec: FinetuneSpec) -> FinetunePlan:
    """What `start(spec)` would train, or the refusal it would give (no packages needed)."""
    store = context.store()
    store.init()
    config = plan_finetune(store, spec, adapters_dir())
    steps = total_steps(len(config.train_ids), spec.settings)
    return FinetunePlan(len(config.train_ids), len(config.validation_ids), steps)


def runs() -> pd.DataFrame:
    """Every fine-tuning run, newest first: status, steps done of all, time left, and what it
    trains (adapter, model, data) at what measured speed."""
    from core.app.runs import overview

    listing = overview(kinds=(RunKind.FINETUNE,))
    if listing.empty:
        return listing
    details = context.store().finetune.runs()
    return listing.drop(columns=["suite", "source", "models", "judge", "rounds"]).merge(
        details, on="id"
    )


def tokens_per_second(run_id: str) -> float | None:
    """Non-pad tokens through forward, backward and update per second, over the run's steps."""
    return context.store().finetune.totals(run_id).tokens_per_second


def _ready(store: Store) -> Store:
    # Only whether the packages are there: OpenMP is set by the process that trains (the
    # CLI's handler, the worker), not by the dashboard that merely queues the run.
    require_training_packages()  # before anything is planned or stored
    store.init()
    return store


def create(spec: FinetuneSpec) -> str:
    """A queued fine-tuning run; returns its id."""
    store = _ready(context.store())
    return create_finetune(store, plan_finetune(store, spec, adapters_dir()))


def start(spec: FinetuneSpec) -> str:
    """Create the run and hand it to a background worker; returns its id."""
    run_id = create(spec)
    worker.launch(run_id)
    return run_id


def _base_model(config: FinetuneConfig) -> ModelInfo:
    """The run's model file: by name, else (renamed) by content."""
    models = [m for m in context.list_models() if m.usable and not m.is_adapter]
    same = [m for m in models if m.sha256 == config.model_sha256]
    found = next((m for m in same if m.name == config.model), same[0] if same else None)
    if found is None:
        raise InvalidRequest(
            f"The base model {config.model} (SHA-256 {config.model_sha256[:12]}…) is no longer "
            "in the models folder."
        )
    return context.current_file(found)  # the trainer reads the file: its hash, checked in full


def work_finetune_run(store: Store, run_id: str, on_progress: OnProgress = None) -> RunStatus:
    """Work the run in this process (what the worker calls), from its newest checkpoint."""
    prefer_passive_openmp()  # before the models are listed, which loads llama.cpp
    require_training_packages()
    config = store.runs.get(run_id).config
    return run_finetune(
        store,
        run_id,
        _base_model(config),
        _coding_tokens,
        _open_trainer,
        adapters_dir(),
        checkpoints_root(),
        on_progress,
    )


def train_adapter(
    name: str,
    dataset: str,
    codebook: str,
    model: ModelInfo,
    train_ids: Sequence[str],
    validation_ids: Sequence[str] = (),
    source: LabelSource = LabelSource.VERIFIED,
    rule: VerifyRule = VerifyRule.ONE,
    settings: LoraSettings | None = None,
    replace: bool = False,
    on_progress: OnProgress = None,
) -> AdapterManifest:
    """Train an adapter on exactly these texts, here and now (a learning curve's point), as a
    fine-tuning run of its own; returns the written adapter's manifest. An unfinished run
    planned exactly the same (a job interrupted before) is resumed from its checkpoint
    rather than started again; any other unfinished run writing `name` is refused."""
    store = _ready(context.store())
    spec = FinetuneSpec(
        name,
        dataset,
        codebook,
        model,
        source,
        rule,
        settings=settings or LoraSettings(),
        replace=replace,
    )
    ids = (tuple(train_ids), tuple(validation_ids))
    config = plan_finetune_on(store, spec, adapters_dir(), *ids, unfinished_ok=True)
    run_id = same_run(store, config)
    if run_id is None:
        plan_finetune_on(store, spec, adapters_dir(), *ids)  # refuses another unfinished run
        run_id = create_finetune(store, config)
    else:
        store.runs.requeue(run_id)
    status = work_finetune_run(store, run_id, on_progress)
    if status != RunStatus.COMPLETED:
        raise InvalidRequest(f"Fine-tuning run {run_id} ended {status}.")
    return adapter_manifest(name)


@dataclass(frozen=True)
class LossCurve:
    steps: tuple[FinetuneStep, ...]
    validations: tuple[FinetuneValidation, ...]


def loss_curve(run_id: str) -> LossCurve:
    store = context.store()
    return LossCurve(tuple(store.finetune.steps(run_id)), tuple(store.finetune.validations(run_id)))


def state(run_id: str) -> RunState:
    """A fine-tuning run's status, steps done of all, and the time left at its measured pace."""
    from core.app.runs import reconcile

    store = context.store()
    record = reconcile(store, store.runs.get(run_id))
    if record.kind != RunKind.FINETUNE:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a fine-tuning run.")
    totals = store.finetune.totals(run_id)
    total = record.total_units or 0
    each = totals.seconds_per_step
    eta = each * (total - totals.steps) if each and record.status.active else None
    return RunState(run_id, record.status, totals.steps, total, eta, record.error)


def adapters() -> tuple[AdapterManifest, ...]:
    """Every adapter whose manifest reads, by name (unreadable folders: see the Models list)."""
    return tuple(m for _, m, _ in adapter_files.list_adapters(adapters_dir()) if m)


def adapter_manifest(name: str) -> AdapterManifest:
    return adapter_files.read_adapter(adapter_files.adapter_folder(adapters_dir(), name))


def record_adapter_metrics(name: str, metrics: dict[str, MetricValue]) -> None:
    adapter_files.record_metrics(adapters_dir(), name, metrics)


def delete_adapter(name: str) -> None:
    adapter_files.delete_adapter(adapters_dir(), name)


def delete_checkpoints(run_id: str) -> None:
    """A deleted fine-tuning run's checkpoints (core.app.runs.delete_run calls this)."""
    shutil.rmtree(checkpoint_folder(checkpoints_root(), run_id), ignore_errors=True)
