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
from core.evaluation.lifecycle import abandoned_state, hung
from core.evaluation.suites import ensure_builtin_suite, load_file
from core.store import Store
from core.store.duck import optional
from core.types import Owner, RowError, RunKind, RunRecord, RunSpec, RunStatus

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
    "progress",
    "error",
]


def abandoned_message(pid: int | None) -> str:
    return f"the worker process ({pid}) ended without finishing; resume to continue"


@dataclass(frozen=True)
class SuiteImport:
    name: str
    questions: int
    skipped: list[RowError]
    reference_answers: int = 0  # questions whose reference is an answer for the judge


def import_suite(
    path: Path,
    name: str | None = None,
    skip_invalid: bool = False,
    replace: bool = False,
    references: Path | None = None,
) -> SuiteImport:
    """`references`: FastChat reference answers (reference_answer/gpt-4.jsonl) to attach."""
    questions, skipped = load_file(path, skip_invalid=skip_invalid, references=references)
    name = (name or "").strip() or path.stem
    context.store().suites.save(name, path.name, questions, replace=replace)
    answers = sum(q.reference_kind == "answer" for q in questions)
    return SuiteImport(name, len(questions), skipped, answers)


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


def _benchmark(run: RunRecord) -> RunRecord:
    if run.kind != RunKind.BENCHMARK:
        raise InvalidRequest(f"Run {run.id} is a {run.kind} run; only benchmarks run in a worker.")
    return run


def prepare_resume(run_id: str) -> RunRecord:
    """Check that the run can be resumed and queue it for a worker again."""
    store = context.store()
    run = _benchmark(reconcile(store, store.runs.get(run_id)))
    if run.status == RunStatus.COMPLETED:
        raise InvalidRequest(f"Run {run_id} is already completed.")
    if run.status == RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is already running (process {run.pid}).")
    if run.status == RunStatus.QUEUED and run.owner is not None:  # settled above: alive
        raise InvalidRequest(f"Run {run_id} already has a worker starting (process {run.pid}).")
    store.runs.requeue(run_id)
    return store.runs.get(run_id)


def resume_run(run_id: str) -> int:
    """Continue a run in a new background worker; returns the worker's process id."""
    prepare_resume(run_id)
    return worker.launch(run_id)


def _settle(store: Store, run_id: str, status: str, owner: Owner | None, beat) -> str:
    """The status a run really has: running or queued with its process gone means
    interrupted, written down (only if nobody took the run over meanwhile)."""
    if abandoned_state(status, owner, beat) and store.runs.end_if_owned(
        run_id, owner, RunStatus.INTERRUPTED, abandoned_message(owner.pid), from_status=(status,)
    ):
        return RunStatus.INTERRUPTED
    return status


def reconcile(store: Store, run: RunRecord) -> RunRecord:
    if _settle(store, run.id, run.status, run.owner, run.heartbeat_at) != run.status:
        return store.runs.get(run.id)
    return run


def settle(store: Store, runs: pd.DataFrame) -> pd.DataFrame:
    """A listing of runs (id, status, pid, owner_started_at, heartbeat_at, error) as they
    really are: those whose process died are marked interrupted, in the store and here."""
    active = runs.status.isin([RunStatus.RUNNING, RunStatus.QUEUED]) & runs.pid.notna()
    for i, r in runs[active].iterrows():
        owner = Owner(int(r.pid), optional(r.owner_started_at))
        beat = optional(r.heartbeat_at)
        beat = beat.to_pydatetime() if beat is not None else None
        if _settle(store, r.id, r.status, owner, beat) != r.status:
            runs.loc[i, ["status", "error"]] = [RunStatus.INTERRUPTED, abandoned_message(owner.pid)]
    return runs


def overview() -> pd.DataFrame:
    """Benchmark runs, newest first, with progress and ETA. Runs whose worker died (kill -9,
    a crash, a closed terminal) are marked interrupted here, so they show Resume at once."""
    worker.reap()
    store = context.store()
    runs = settle(store, store.runs.benchmark_overview())
    runs["eta_s"] = (runs.total - runs.items_done) * runs.seconds_per_item
    runs["progress"] = runs.items_done / runs.total.clip(lower=1)
    return runs[OVERVIEW_COLUMNS]


def latest_benchmark() -> str | None:
    """The newest benchmark run's id, or None on a store without one."""
    runs = overview()
    return None if runs.empty else str(runs.id.iloc[0])


def _ours(pid: int | None) -> bool:
    """Only our own worker or `perfics` processes are ever signalled: a refinement runs
    inside the dashboard's own process, which must never be."""
    try:
        cmdline = psutil.Process(pid).cmdline() if pid else []
    except psutil.Error:
        return False
    named = any(Path(arg).name == "perfics" for arg in cmdline[:2])
    return named or any(arg in (worker.WORKER_MODULE, "core.app.cli") for arg in cmdline)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile


def stop_run(run_id: str) -> str:
    """Ask a queued or running benchmark to stop; it ends interrupted and can be resumed."""
    store = context.store()
    run = _benchmark(reconcile(store, store.runs.get(run_id)))
    if run.status == RunStatus.QUEUED:
        store.runs.request_stop(run_id)  # a worker claiming it right now stops at once
        if store.runs.end_if_owned(
            run_id,
            run.owner,
            RunStatus.INTERRUPTED,
            "stopped before it started",
            from_status=(RunStatus.QUEUED,),
        ):
            return "Stopped before it started."
        run = store.runs.get(run_id)  # a worker claimed it meanwhile: stop that one
    if run.status != RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is not running (it is {run.status}).")
    store.runs.request_stop(run_id)
    if not _ours(run.pid):
        return "Stopping: the run ends after its current step and keeps what it finished."
    if hung(run):
        _signal(run.pid, signal.SIGKILL)  # it cannot even answer a polite signal
        store.runs.end_if_owned(
            run_id, run.owner, RunStatus.INTERRUPTED, f"the worker ({run.pid}) hung and was stopped"
        )
        return "The worker had stopped responding; it was killed. The run can be resumed."
    _signal(run.pid, signal.SIGTERM)
    return "Stopping: the run ends now and keeps what it finished."


def delete_run(run_id: str) -> None:
    """Delete a run that is not running, with everything recorded under it."""
    store = context.store()
    run = reconcile(store, store.runs.get(run_id))
    if run.status == RunStatus.RUNNING:
        raise InvalidRequest(f"Run {run_id} is running; stop it before deleting it.")
    store.runs.delete(run_id)
