"""One lifecycle for every run, interactive refinement and background benchmark alike:
create -> claim -> persist each unit as it completes -> complete | fail | interrupt.

While a process works on a run it beats a heartbeat into the runs row, so any other process
can tell a live worker from a dead one: the owner's pid is gone (or a zombie), or its last
heartbeat is older than STALE_AFTER_S. A stop asked for from elsewhere (the dashboard) is
picked up by the heartbeat and honoured at the next step boundary.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import psutil

from core.errors import PerficsError
from core.store import Store
from core.store.duck import now
from core.types import RunConfig, RunKind, RunRecord, RunStatus, RunUnit

HEARTBEAT_INTERVAL_S = 2.0
# Several missed beats: the owner is hung, or its pid now belongs to another process.
STALE_AFTER_S = 15.0


class RunStopped(BaseException):
    """Raised inside a run when a stop was asked for; like Ctrl+C, the run stays resumable.
    A BaseException, so that code catching errors of a unit never swallows it."""


def process_alive(pid: int | None) -> bool:
    """A zombie (exited, not yet reaped by its parent) counts as dead."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def owner_alive(pid: int | None, heartbeat_at: datetime | None, at: datetime | None = None) -> bool:
    if not process_alive(pid):
        return False
    if heartbeat_at is None:
        return True
    return (at or now()) - heartbeat_at < timedelta(seconds=STALE_AFTER_S)


def abandoned(run: RunRecord, at: datetime | None = None) -> bool:
    """A run marked running whose process is gone: it will never finish by itself."""
    return run.status == RunStatus.RUNNING and not owner_alive(run.pid, run.heartbeat_at, at)


def describe_interruption(exc: BaseException) -> str:
    if isinstance(exc, RunStopped):
        return "stopped on request"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl+C)"
    return f"interrupted ({type(exc).__name__})"


class RunLifecycle:
    """A handle on one run for the process that works on it."""

    def __init__(self, store: Store, run_id: str):
        self.store = store
        self.id = run_id
        self.pid = os.getpid()
        self.finished = False
        self._stop_asked = threading.Event()
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def create(
        cls,
        store: Store,
        kind: RunKind,
        config: RunConfig,
        units: Sequence[RunUnit] = (),
        total_units: int | None = None,
    ) -> RunLifecycle:
        run_id = store.runs.create(kind, config.to_json(), units, RunStatus.QUEUED, total_units)
        return cls(store, run_id)

    @contextmanager
    def working(self) -> Iterator[RunLifecycle]:
        """Claim the run and keep its heartbeat while the body works. The body calls
        complete(); an error marks the run failed, an interruption (Ctrl+C, a stop, a page
        rerun) marks it interrupted, and either way its finished units are kept."""
        if self.store.runs.claim(self.id, self.pid, owner_alive):
            self._stop_asked.set()  # stopped before it started: ends at the first check
        self._start_heartbeat()
        try:
            yield self
        except Exception as exc:
            self._end(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        except BaseException as exc:
            self._end(RunStatus.INTERRUPTED, describe_interruption(exc))
            raise
        else:
            if not self.finished:
                self.complete()
        finally:
            self._stop_heartbeat()

    def complete(self, stop_reason: str | None = None) -> None:
        self._end(RunStatus.COMPLETED, None, stop_reason)

    def check_stop(self) -> None:
        """Call between steps: raises RunStopped once a stop has been asked for."""
        if self._stop_asked.is_set():
            raise RunStopped

    def _end(self, status: RunStatus, error: str | None, stop_reason: str | None = None) -> None:
        # The heartbeat writes the same row; stop it first so the two never conflict.
        self._stop_heartbeat()
        self.store.runs.finish(self.id, status, error=error, stop_reason=stop_reason)
        self.finished = True

    def _start_heartbeat(self) -> None:
        self._quit.clear()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._thread.start()

    def _stop_heartbeat(self) -> None:
        self._quit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _beat(self) -> None:
        while True:
            try:
                if self.store.runs.heartbeat(self.id, self.pid):
                    self._stop_asked.set()
            except PerficsError:
                pass  # a busy database costs one beat; the next one tries again
            if self._quit.wait(HEARTBEAT_INTERVAL_S):
                return
