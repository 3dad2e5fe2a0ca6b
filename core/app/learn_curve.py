"""Use cases of learning curves, shared by the CLI and the Learn page: plan and start a curve
(a background job, stopped, resumed and deleted like any run: core/app/runs.py), follow its
progress and time left, read its table, and compare its methods at one n with their cost and
rank them by PeRFICS.

A curve keeps its models' embeddings under `<data dir>/curves/<run id>/` while it exists, so
that a resumed curve does not embed its texts again; deleting the curve removes them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from core.app import context, runs, worker
from core.app.preferences import hardware
from core.engine.embedding import open_embedder
from core.engine.registry import resolve
from core.errors import InvalidRequest, PerficsError
from core.evaluation import curve, curve_results
from core.evaluation.curve_methods import CurveTools, LoraRequest, TrainLora
from core.ranking.learning import rank_compare
from core.store import Store
from core.types import RunKind, RunStatus, Weights
from core.types.classification import VerifyRule
from core.types.curves import (
    CURVE_HEADLINE_METRICS,
    CompareReport,
    CurveConfig,
    CurveMethod,
    CurveProgress,
    CurveSpec,
)
from core.types.finetune import AdapterManifest
from core.types.learning import LabelSource


def cache_dir(run_id: str) -> Path:
    return context.settings().db.parent / "curves" / run_id


def _train_for_curve(request: LoraRequest) -> AdapterManifest:
    """The point's adapter, trained by LoRA fine-tuning (core/app/finetune.py) on exactly its
    texts; one an earlier attempt at the point finished is used as it is (a fine-tuning run
    it left unfinished is resumed from its checkpoint by train_adapter itself)."""
    from core.app import finetune

    try:
        kept = finetune.adapter_manifest(request.adapter)
    except PerficsError:
        kept = None
    if kept and (kept.base_sha256, kept.train_size) == (
        request.base.sha256,
        len(request.train_ids),
    ):
        return kept
    return finetune.train_adapter(
        request.adapter,
        request.dataset,
        request.codebook,
        resolve(request.base.name, context.list_models()),
        request.train_ids,
        source=LabelSource(request.source),
        rule=VerifyRule(request.rule),
        settings=request.settings,
    )


def lora_unavailable() -> str | None:
    """Why the lora method cannot be chosen here (LoRA fine-tuning or its optional packages
    missing), or None when it can."""
    try:
        from core.engine.training_packages import missing_training_package
        from core.errors import TrainingUnavailable
    except ImportError:
        return "LoRA fine-tuning is not part of this version."
    missing = missing_training_package()
    return str(TrainingUnavailable(missing)) if missing else None


def lora_trainer() -> TrainLora | None:
    return None if lora_unavailable() else _train_for_curve


def _note_adapter_metrics(name: str, metrics) -> None:
    from core.app import finetune

    finetune.record_adapter_metrics(name, metrics)


def _open_adapter(name: str):
    """A base model with an adapter, listed afresh (an adapter trained a moment ago is new)."""
    cfg = context.settings()
    return context.open_backend(resolve(name, context.list_models(cfg)), cfg)


def tools(run_id: str) -> CurveTools:
    cfg = context.settings()
    pool = context.backend_pool(cfg)
    return CurveTools(
        load=pool,
        open_embedder=lambda name: open_embedder(pool.info(name), cfg),
        cache_dir=cache_dir(run_id),
        train_lora=lora_trainer(),
        open_adapter=_open_adapter,
        note_adapter_metrics=_note_adapter_metrics,
    )


def _checked(spec: CurveSpec) -> CurveSpec:
    if CurveMethod.LORA in spec.methods and (reason := lora_unavailable()):
        raise InvalidRequest(f"{reason} Or choose kshot and/or probe.")
    return spec


def plan(spec: CurveSpec) -> tuple[CurveConfig, int]:
    """The curve's configuration and its number of points; raises what create would."""
    from core.engine.llama import llama_cpp_version

    store = context.store()
    config, units = curve.plan_curve(
        store, _checked(spec), context.settings().threads, llama_cpp_version()
    )
    return config, len(units)


def create_curve(spec: CurveSpec) -> str:
    from core.engine.llama import llama_cpp_version

    store = context.store()
    store.init()
    return curve.create_curve(
        store, _checked(spec), context.settings().threads, llama_cpp_version()
    )


def start_curve(spec: CurveSpec) -> str:
    """Create the curve and hand it to a background worker; returns its id."""
    run_id = create_curve(spec)
    worker.launch(run_id)
    return run_id


def work_curve_run(store: Store, run_id: str, on_progress=None) -> RunStatus:
    """Measure a curve's pending points in this process (what the worker calls)."""
    return curve.run_curve(store, run_id, tools(run_id), on_progress)


def curve_config(run_id: str) -> CurveConfig:
    record = context.store().runs.get(run_id)
    if record.kind != RunKind.CURVE:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a learning curve.")
    return record.config


def curves() -> pd.DataFrame:
    """Every curve, newest first, with its status, progress and what it measures."""
    listing = runs.overview(kinds=(RunKind.CURVE,))
    if listing.empty:
        return listing
    details = context.store().curves.runs()
    return listing.drop(columns=["suite", "source", "judge", "rounds"]).merge(details, on="id")


def progress(run_id: str) -> CurveProgress:
    """Points done of all, and the time left: per method · model, the pending points × the
    median seconds of its finished ones (groups with none finished are named, not guessed)."""
    state = runs.run_state(run_id)
    groups = context.store().curves.progress(run_id)
    eta, unmeasured = 0.0, []
    for g in groups[groups.pending > 0].itertuples():
        if pd.isna(g.median_seconds):
            unmeasured.append(f"{g.method} · {g.model}")
        else:
            eta += float(g.median_seconds) * int(g.pending)
    return CurveProgress(
        run_id=run_id,
        status=str(state.status),
        done=state.done,
        total=state.total,
        eta_s=eta if state.status.active and (eta or not unmeasured) else None,
        unmeasured=tuple(unmeasured),
        error=state.error,
    )


def aggregated(run_id: str) -> pd.DataFrame:
    """One row per method, model, n and metric: the mean over repeats and its interval."""
    return curve_results.aggregate(context.store(), run_id, curve_config(run_id))


def table(run_id: str, metrics: tuple[str, ...] = CURVE_HEADLINE_METRICS) -> pd.DataFrame:
    """One row per model, method and n with each metric's mean, low and high."""
    return curve_results.wide_table(aggregated(run_id), metrics)


def failures(run_id: str) -> pd.DataFrame:
    return context.store().curves.failures(run_id)


def compare(run_id: str, n: int | None = None) -> CompareReport:
    """Base (zero-shot) and each method of each model at n (default: the largest), with cost
    per 1,000 texts and training cost on the saved hardware profile."""
    config = curve_config(run_id)
    size = curve_results.compare_n(config, n)
    hw = hardware()
    rows = curve_results.compare_rows(config, aggregated(run_id), size, hw)
    return CompareReport(
        run_id, config.dataset, config.codebook, rows, hw.currency, hw.name, config.threads
    )


def compare_table(report: CompareReport) -> pd.DataFrame:
    return pd.DataFrame([r.as_row() for r in report.rows])


def ranked(report: CompareReport, weights: Weights, metric: str = "macro_f1") -> pd.DataFrame:
    """The comparison ranked by PeRFICS (core/ranking/learning.py)."""
    return rank_compare(report.rows, weights, metric)


def remove_cache(run_id: str) -> None:
    """Forget a deleted curve's kept embeddings (core.app.runs.delete_run calls this)."""
    shutil.rmtree(cache_dir(run_id), ignore_errors=True)


def delete_curve(run_id: str) -> None:
    """Delete a curve that is not running, its points and its kept embeddings."""
    curve_config(run_id)
    runs.delete_run(run_id)  # which calls remove_cache
