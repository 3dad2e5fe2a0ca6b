"""Use case: the dashboard's process is exiting (SIGTERM, Ctrl+C) while its pages may still be
working on daemon threads. The runs it works on (a refinement being streamed) end as stopped,
with the steps they finished, rather than being left "running" until a later reader finds
their process gone; and a model call still under way does not crash the exit."""

from __future__ import annotations

import os
import sys

from core.config import Settings
from core.engine.llama import hold_models_for_exit
from core.errors import PerficsError
from core.evaluation.lifecycle import this_process
from core.store import Store
from core.types import RunStatus

SHUT_DOWN = "the dashboard was shut down while it ran"
_LOCK_WAIT_AT_EXIT_S = 1.0


def stop_own_runs(cfg: Settings, why: str = SHUT_DOWN) -> list[str]:
    """End every run this process is working on in `cfg`'s store as stopped; the ids it
    ended. Only runs still running under this process's ownership are touched, and a store
    that cannot be written (busy, read-only, never created) is left alone: such a run is
    found abandoned later, as after a kill -9."""
    if not os.path.exists(cfg.db):
        return []
    owner = this_process()
    try:
        # A short wait: a terminal `perfics run` holding the lock must not keep the
        # dashboard from exiting for the usual 10 s (past `docker stop`'s own 10 s).
        store = Store(cfg.db, lock_timeout_s=_LOCK_WAIT_AT_EXIT_S)
        return [
            run_id
            for run_id in store.runs.running_of(owner)
            if store.runs.end_if_owned(run_id, owner, RunStatus.STOPPED, why)
        ]
    except PerficsError:
        return []


def exit_cleanly(cfg: Settings) -> None:
    """At process exit: stop this process's runs, then keep any model call from starting.
    If one is under way on a page's thread, the process ends here, status 0, without the
    library teardown that would crash under it (SIGSEGV in ggml, seen at SIGTERM during a
    prompt's evaluation); there is nothing left to save, the runs were just stopped."""
    stop_own_runs(cfg)
    if not hold_models_for_exit():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
