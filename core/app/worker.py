"""The background worker: `python -m core.app.worker RUN_ID` works through a run's pending
units and exits. The dashboard starts one per run (launch) and reaps it when it ends;
`perfics run` calls work() in its own process, so both take the same path.

SIGTERM stops the run at once: marked stopped when a stop was asked for (Stop, `perfics run
--stop`), else interrupted, as Ctrl+C does; resumable either way.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.app import context
from core.engine.training_packages import prefer_passive_openmp
from core.errors import PerficsError
from core.evaluation.benchmark import OnProgress, run_benchmark
from core.evaluation.coding_run import run_coding
from core.evaluation.ladder import run_ladder
from core.evaluation.lifecycle import RunStopped, process_started, this_process
from core.evaluation.likelihood import run_likelihood
from core.evaluation.loadtest import run_loadtest
from core.evaluation.probe_coding import is_probe_run
from core.types import Owner, RunKind, RunStatus

WORKER_MODULE = "core.app.worker"
# Workers started by this process: polled by reap() so that none stays a zombie. Several
# dashboard sessions may launch and reap at once.
_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()


def log_path(run_id: str) -> Path:
    return context.settings().db.parent / "logs" / f"run-{run_id}.log"


def launch(run_id: str) -> int:
    """Start a worker for the run in a new session (closing the browser tab or stopping the
    page never stops it); returns its process id."""
    reap()
    log = log_path(run_id)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, run_id],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
    except OSError as exc:
        raise PerficsError(f"Cannot start a worker for run {run_id}: {exc}") from exc
    with _children_lock:
        _children.append(proc)
    # Recorded at once, so a worker that dies before claiming the run is noticed too.
    context.store().runs.assign_worker(run_id, Owner(proc.pid, process_started(proc.pid)))
    return proc.pid


def reap() -> None:
    """Collect the exit status of finished workers, so their pids disappear."""
    with _children_lock:
        for proc in list(_children):
            if proc.poll() is not None:
                _children.remove(proc)


@contextmanager
def _sigterm_stops_the_run() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second Stop must not cut the first
        raise RunStopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def work(run_id: str, on_progress: OnProgress = None) -> RunStatus:
    """Work through the run's pending units in this process (a benchmark or likelihood run)."""
    cfg = context.settings()
    store = context.store(cfg)
    record = store.runs.get(run_id)
    kind = record.kind
    with _sigterm_stops_the_run():
        if kind == RunKind.CODING and is_probe_run(record.config):
            from core.app.learn import work_probe_run  # learn launches workers itself

            return work_probe_run(store, run_id, on_progress)
        if kind == RunKind.CURVE:
            from core.app.learn_curve import work_curve_run  # it launches workers itself

            if "lora" in record.config.methods:
                # Before its k-shot points load llama.cpp, which loads OpenMP for torch too.
                prefer_passive_openmp()

            return work_curve_run(store, run_id, on_progress)
        if kind == RunKind.FINETUNE:
            from core.app.finetune import work_finetune_run  # it launches workers itself

            return work_finetune_run(store, run_id, on_progress)
        if kind == RunKind.LADDER:
            # Its copies appear while it runs, so models are listed afresh, not pooled.
            return run_ladder(
                store,
                run_id,
                lambda: context.list_models(cfg),
                lambda info: context.open_backend(info, cfg),
                cfg.threads,
                on_progress,
            )
        runners = {
            RunKind.LIKELIHOOD: run_likelihood,
            RunKind.CODING: run_coding,
            RunKind.LOADTEST: run_loadtest,
        }
        runner = runners.get(kind, run_benchmark)
        return runner(store, run_id, context.backend_pool(cfg), on_progress)


def _fail_if_never_claimed(run_id: str, exc: Exception) -> None:
    """An error before the claim (a locked store, an unreadable model folder) would leave the
    run queued for ever; once claimed, the run lifecycle has recorded the error itself."""
    try:
        context.store().runs.end_if_owned(
            run_id,
            this_process(),
            RunStatus.FAILED,
            f"{type(exc).__name__}: {exc}",
            from_status=(RunStatus.QUEUED,),
        )
    except PerficsError:
        pass  # the store itself is the problem; the log has the error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.app.worker", description=__doc__)
    parser.add_argument("run_id")
    run_id = parser.parse_args(argv).run_id
    print(f"worker for run {run_id}", flush=True)
    try:
        status = work(run_id)
    except (RunStopped, KeyboardInterrupt) as exc:
        print("stopped on request" if isinstance(exc, RunStopped) else "interrupted", flush=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - whatever it was, the run must not stay queued
        print(f"error: {exc}", file=sys.stderr, flush=True)
        _fail_if_never_claimed(run_id, exc)
        return 1
    print(f"run {run_id} {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
