"""The background worker: `python -m core.app.worker RUN_ID` works through a run's pending
units and exits. The dashboard starts one per run (launch) and reaps it when it ends;
`perfics run` calls work() in its own process, so both take the same path.

SIGTERM stops the run at once, marked interrupted (resumable), as Ctrl+C does.
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
from core.errors import PerficsError
from core.evaluation.benchmark import OnProgress, execute
from core.evaluation.lifecycle import RunStopped
from core.types import RunStatus

WORKER_MODULE = "core.app.worker"
# Workers started by this process: polled by reap() so that none stays a zombie.
_children: list[subprocess.Popen] = []


def log_path(run_id: str) -> Path:
    return context.settings().db.parent / "logs" / f"run-{run_id}.log"


def launch(run_id: str) -> int:
    """Start a worker for the run in a new session (closing the browser tab or stopping the
    page never stops it); returns its process id."""
    reap()
    log = log_path(run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, run_id],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children.append(proc)
    return proc.pid


def reap() -> None:
    """Collect the exit status of finished workers, so their pids disappear."""
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


@contextmanager
def _sigterm_stops_the_run() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum, frame):
        raise RunStopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def work(run_id: str, on_progress: OnProgress = None) -> RunStatus:
    """Work through the run's pending units in this process."""
    cfg = context.settings()
    with _sigterm_stops_the_run():
        return execute(context.store(cfg), run_id, context.backend_pool(cfg), on_progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.app.worker", description=__doc__)
    parser.add_argument("run_id")
    run_id = parser.parse_args(argv).run_id
    print(f"worker for run {run_id}", flush=True)
    try:
        status = work(run_id)
    except PerficsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except RunStopped:
        print("stopped on request", flush=True)
        return 0
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    print(f"run {run_id} {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
