"""Use cases for benchmark runs: import suites, start, watch, resume, stop and delete."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

from core.app import context, worker
from core.errors import InvalidRequest
from core.evaluation.benchmark import create_run
from core.evaluation.lifecycle import abandoned, owner_alive, process_alive
from core.evaluation.suites import ensure_builtin_suite, load_file
from core.store import Store
from core.types import RowError, RunProgress, RunRecord, RunSpec, RunStatus

OVERVIEW_COLUMNS = [
    "id",
    "created_at",
    "status",
    "suite",
    "models",
    "judge",
    "rounds",
    "items_done",
    "total",
    "eta_s",
    "error",
]


def abandoned_message(pid: int | None) -> str:
    return f"the worker process ({pid}) ended without finishing; resume to continue"


@dataclass(frozen=True)
class SuiteImport:
    name: str
    questions: int
    skipped: list[RowError]


def import_suite(
    path: Path, name: str | None = None, skip_invalid: bool = False, replace: bool = False
) -> SuiteImport:
    questions, skipped = load_file(path, skip_invalid=skip_invalid)
    name = (name or "").strip() or path.stem
    context.store().suites.save(name, path.name, questions, replace=replace)
    return SuiteImport(name, len(questions), skipped)


def suites() -> pd.DataFrame:
    store = context.store()
    ensure_builtin_suite(store)
    return store.suites.overview()


def create(spec: RunSpec) -> str:
    from core.engine.llama import llama_cpp_version

    return create_run(context.store(), spec, llama_cpp_version())


def start_run(spec: RunSpec) -> str:
    """Create the run and hand it to a background worker; returns its id."""
    run_id = create(spec)
    worker.launch(run_id)
    return run_id


def prepare_resume(run_id: str) -> RunRecord:
    """Check that the run can be resumed and queue it for a worker again."""
    store = context.store()
    run = reconcile(store, store.runs.get(run_id))
    if run.status == RunStatus.COMPLETED:
        raise InvalidRequest(f"Run {run_id} is already completed.")
    if run.status == RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is already running (process {run.pid}).")
    store.runs.requeue(run_id)
    return store.runs.get(run_id)


def resume_run(run_id: str) -> int:
    """Continue a run in a new background worker; returns the worker's process id."""
    prepare_resume(run_id)
    return worker.launch(run_id)


def reconcile(store: Store, run: RunRecord) -> RunRecord:
    """The run as it really is: one marked running whose worker is gone is interrupted."""
    if abandoned(run) and store.runs.mark_abandoned(run.id, run.pid, abandoned_message(run.pid)):
        return store.runs.get(run.id)
    return run


def overview() -> pd.DataFrame:
    """Benchmark runs, newest first, with progress and ETA. Runs whose worker died (kill -9,
    a crash, a closed terminal) are marked interrupted here, so they show Resume at once."""
    worker.reap()
    store = context.store()
    runs = store.runs.benchmark_overview()
    for i, r in runs[runs.status == RunStatus.RUNNING].iterrows():
        pid = None if pd.isna(r.pid) else int(r.pid)
        beat = None if pd.isna(r.heartbeat_at) else r.heartbeat_at.to_pydatetime()
        if not owner_alive(pid, beat) and store.runs.mark_abandoned(
            r.id, pid, abandoned_message(pid)
        ):
            runs.loc[i, ["status", "error"]] = [RunStatus.INTERRUPTED, abandoned_message(pid)]
    runs["eta_s"] = (runs.total - runs.items_done) * runs.seconds_per_item
    return runs[OVERVIEW_COLUMNS]


def progress(run_id: str) -> RunProgress:
    run = context.store().runs.get(run_id)
    return RunProgress(run.done_units, run.total_units or 0)


def _stoppable_by_signal(pid: int | None) -> bool:
    """Only our own worker or `perfics run` processes get SIGTERM: a refinement runs inside the
    dashboard's own process, which must never be signalled."""
    if not process_alive(pid):
        return False
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    head = " ".join(cmdline[:3])
    return worker.WORKER_MODULE in head or "core.app.cli" in head or head.endswith("perfics")


def stop_run(run_id: str) -> str:
    """Ask a queued or running run to stop; it ends interrupted and can be resumed."""
    store = context.store()
    run = reconcile(store, store.runs.get(run_id))
    if run.status == RunStatus.QUEUED:
        store.runs.request_stop(run_id)  # a worker starting right now stops at once
        store.runs.finish(run_id, RunStatus.INTERRUPTED, error="stopped before it started")
        return "Stopped before it started."
    if run.status != RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is not running (it is {run.status}).")
    store.runs.request_stop(run_id)
    if _stoppable_by_signal(run.pid):
        os.kill(run.pid, signal.SIGTERM)
    return "Stopping: the run ends after the current step and keeps what it finished."


def delete_run(run_id: str) -> None:
    """Delete a run that is not running, with everything recorded under it."""
    store = context.store()
    run = reconcile(store, store.runs.get(run_id))
    if run.status == RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is running; stop it before deleting it.")
    store.runs.delete(run_id)
