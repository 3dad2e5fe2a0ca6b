"""Use cases for benchmark runs: import suites, start, watch, resume, stop and delete."""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

from core.app import context, worker
from core.engine.model_folder import printable
from core.errors import InvalidRequest, PerficsError
from core.evaluation import estimate as estimating
from core.evaluation.benchmark import create_run, plan_run
from core.evaluation.import_refusal import ImportRefused
from core.evaluation.judge import default_judge
from core.evaluation.lifecycle import abandoned_state, hung
from core.evaluation.suites import (
    BUILTIN_SUITE,
    SuiteImportError,
    ensure_builtin_suite,
    load_file,
)
from core.store import Store
from core.store.duck import optional
from core.types import (
    BenchmarkConfig,
    ModelInfo,
    Owner,
    RowError,
    RunEstimate,
    RunKind,
    RunRecord,
    RunSpec,
    RunState,
    RunStatus,
    RunUnit,
)
from core.types.text import check_text

OVERVIEW_COLUMNS = [
    "id",
    "kind",
    "created_at",
    "status",
    "suite",
    "source",  # a quantization ladder's source model
    "models",
    "judge",
    "data_left_via",  # endpoints on another machine the run sent prompts to
    "rounds",
    "items_done",
    "total",
    "eta_s",
    "progress",
    "error",
]
# The label of the Benchmarks page's checkbox, named here so an import error can point at it.
SKIP_INVALID_LABEL = "Import the valid rows and skip the invalid ones"
QUICK_START_QUESTIONS = 18
# Runs a background worker works on (the others run inside the process that asked for them).
WORKER_KINDS = (
    RunKind.BENCHMARK,
    RunKind.LIKELIHOOD,
    RunKind.LADDER,
    RunKind.CODING,
    RunKind.FINETUNE,
    RunKind.CURVE,
    RunKind.LOADTEST,
)  # two from each of the built-in suite's nine categories


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
    source: str | None = None,
) -> SuiteImport:
    """`references`: FastChat reference answers (reference_answer/gpt-4.jsonl) to attach.
    `source`: the file's name as the user knows it, for messages and the suite's record."""
    questions, skipped = load_file(
        path, skip_invalid=skip_invalid, references=references, source=source
    )
    name = (name or "").strip() or Path(source or path.name).stem
    check_text(name, "The suite name")  # a file name may hold bytes that are not UTF-8
    context.store().suites.save(name, printable(source or path.name), questions, replace=replace)
    answers = sum(q.reference_kind == "answer" for q in questions)
    return SuiteImport(name, len(questions), skipped, answers)


def import_upload(
    file_name: str, data: bytes, name: str | None = None, skip_invalid: bool = False
) -> SuiteImport:
    """A question file uploaded in the dashboard. Errors name the uploaded file (never the
    temporary copy) and point at the page's checkbox rather than the CLI's --skip-invalid."""
    with saved_upload(file_name, data) as path:
        try:
            return import_suite(path, name, skip_invalid, source=file_name)
        except SuiteImportError as exc:
            nothing_valid = "Fix these rows and upload the file again."
            raise for_the_page(exc, file_name, nothing_valid) from None


@contextmanager
def saved_upload(file_name: str, data: bytes) -> Iterator[Path]:
    """An uploaded file in a temporary folder under its own name, so that its suffix picks
    the reader; removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(file_name).name
        path.write_bytes(data)
        yield path


def for_the_page(exc: ImportRefused, source: str, nothing_valid: str) -> ImportRefused:
    """The same refusal naming `source` (the uploaded file, not its temporary copy), its fix
    pointing at the page's checkbox rather than the CLI's --skip-invalid."""
    fix = (
        f"Fix these rows, or tick “{SKIP_INVALID_LABEL}” to import the {exc.valid} valid one(s)."
        if exc.valid
        else nothing_valid
    )
    return type(exc)(source, exc.errors, exc.valid, fix)


def suites() -> pd.DataFrame:
    store = context.store()
    if not store.read_only:  # a read-only store lists what it holds
        ensure_builtin_suite(store)
    return store.suites.overview()


def create(spec: RunSpec) -> str:
    from core.engine.llama import llama_cpp_version

    return create_run(context.store(), spec, llama_cpp_version())


def _estimate(
    store: Store, units: Sequence[RunUnit], models: Sequence[str], rounds: int, judge: str | None
) -> RunEstimate:
    speeds = estimating.speeds_for(
        models, rounds, judge, store.items.unit_speeds(), store.generations.speeds()
    )
    return estimating.estimate(units, judge, speeds)


def estimate(spec: RunSpec) -> RunEstimate:
    """How many units the run would have (as the runner counts them) and how long it should
    take, from speeds measured in this store; raises what create() would for a bad request."""
    store = context.store()
    config, units = plan_run(store, spec)
    judge = config.judge.name if config.judge else None
    return _estimate(store, units, config.model_names, config.rounds, judge)


def _remaining_seconds(store: Store, run_id: str) -> float:
    """A run with no finished unit yet: its pending units at the speeds measured before; NaN
    when some of them have no measurement."""
    try:
        config = store.runs.get(run_id).config
        if not isinstance(config, BenchmarkConfig):
            return float("nan")  # a likelihood run: its own units give the time once one ends
        judge = config.judge.name if config.judge else None
        pending = store.items.pending(run_id)
        left = _estimate(store, pending, config.model_names, config.rounds, judge)
    except PerficsError:  # an unreadable run: no estimate, but the listing still shows
        return float("nan")
    return left.seconds if left.complete else float("nan")


def quick_start_spec(models: Sequence[ModelInfo]) -> RunSpec:
    """The first benchmark offered on an empty store: every usable local model on a balanced
    18 built-in questions, one refinement round (every round runs, as in the paper), judged
    by the `auto` judge."""
    usable = tuple(m for m in models if m.usable and not m.is_endpoint)
    if not usable:
        raise InvalidRequest(
            "No usable model to benchmark: put .gguf files into the models folder first."
        )
    return RunSpec(
        suite=BUILTIN_SUITE,
        models=usable,
        rounds=1,
        judge=default_judge(list(usable)),
        limit=QUICK_START_QUESTIONS,
        stop_early=False,
    )


def start_run(spec: RunSpec) -> str:
    """Create the run and hand it to a background worker; returns its id."""
    run_id = create(spec)
    worker.launch(run_id)
    return run_id


def _benchmark(run: RunRecord) -> RunRecord:
    if run.kind not in WORKER_KINDS:
        raise InvalidRequest(f"Run {run.id} is a {run.kind} run, which no worker runs.")
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
    interrupted, written down (only if nobody took the run over meanwhile). A read-only
    store cannot record it: the run is shown interrupted all the same."""
    if not abandoned_state(status, owner, beat):
        return status
    if store.read_only or store.runs.end_if_owned(
        run_id, owner, RunStatus.INTERRUPTED, abandoned_message(owner.pid), from_status=(status,)
    ):
        return RunStatus.INTERRUPTED
    return status


def reconcile(store: Store, run: RunRecord) -> RunRecord:
    if _settle(store, run.id, run.status, run.owner, run.heartbeat_at) == run.status:
        return run
    if store.read_only:
        return dataclasses.replace(
            run, status=RunStatus.INTERRUPTED, error=abandoned_message(run.pid)
        )
    return store.runs.get(run.id)


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


def overview(kinds: Sequence[RunKind] = (RunKind.BENCHMARK, RunKind.LIKELIHOOD)) -> pd.DataFrame:
    """Runs of these kinds, newest first, with progress and ETA. Runs whose worker died (kill
    -9, a crash, a closed terminal) are marked interrupted here, so they show Resume at once."""
    worker.reap()
    store = context.store()
    runs = settle(store, store.runs.benchmark_overview(kinds=[str(k) for k in kinds]))
    # Time left: this run's own mean seconds per unit; before its first unit finishes, the
    # speeds measured in earlier runs (NaN when there are none).
    runs["eta_s"] = (runs.total - runs.items_done) * runs.seconds_per_item
    waiting = runs.status.isin([RunStatus.RUNNING, RunStatus.QUEUED]) & runs.eta_s.isna()
    for i in runs.index[waiting]:
        runs.loc[i, "eta_s"] = _remaining_seconds(store, runs.id[i])
    runs["progress"] = runs.items_done / runs.total.clip(lower=1)
    return runs[OVERVIEW_COLUMNS]


def state_of(row: pd.Series) -> RunState:
    """An overview() row as a RunState."""
    eta = float(row.eta_s) if pd.notna(row.eta_s) else None
    return RunState(
        run_id=str(row.id),
        status=RunStatus(row.status),
        done=int(row.items_done),
        total=int(row.total) if pd.notna(row.total) else 0,
        eta_s=eta,
        error=row.error if isinstance(row.error, str) and row.error else None,
    )


def run_state(run_id: str) -> RunState:
    """One worker run's status, progress and time left."""
    runs = overview(kinds=WORKER_KINDS)
    row = runs[runs.id == run_id]
    if row.empty:
        raise InvalidRequest(f"No benchmark run with id {run_id!r}.")
    return state_of(row.iloc[0])


def latest_state() -> RunState | None:
    """The newest benchmark run's state, or None on a store without one."""
    runs = overview()
    return None if runs.empty else state_of(runs.iloc[0])


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
    """Ask a queued or running benchmark to stop: it ends `stopped`, keeps the units it
    finished and can be resumed."""
    store = context.store()
    run = _benchmark(reconcile(store, store.runs.get(run_id)))
    if run.status == RunStatus.QUEUED:
        store.runs.request_stop(run_id)  # a worker claiming it right now stops at once
        if store.runs.end_if_owned(
            run_id,
            run.owner,
            RunStatus.STOPPED,
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
            run_id, run.owner, RunStatus.STOPPED, f"the worker ({run.pid}) hung and was stopped"
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
    if run.kind == RunKind.FINETUNE:
        from core.app.finetune import delete_checkpoints  # it imports this module

        delete_checkpoints(run_id)
    if run.kind == RunKind.CURVE:
        from core.app.learn_curve import remove_cache  # it imports this module

        remove_cache(run_id)
