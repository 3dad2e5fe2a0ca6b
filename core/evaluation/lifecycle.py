"""One lifecycle for every run, interactive refinement and background benchmark alike:
create -> claim -> persist each unit as it completes -> complete | fail | stop | interrupt.

A run records its owner: the pid and the start time of the process working on it, so a pid the
system later gives to another process is never taken for the owner. The owner is dead when that
process is gone or a zombie. While it works it beats a heartbeat into the runs row every 2 s;
the heartbeat carries stop requests to it, tells it when it has lost the run, and shows a hung
owner (no beat for STALE_AFTER_S), which Stop then kills. Every write that ends a run is
conditional on still owning it, so a process that lost the run never overwrites its successor.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import psutil

from core.store import Store
from core.store.duck import now
from core.types import Owner, RunConfig, RunKind, RunRecord, RunStatus, RunUnit

HEARTBEAT_INTERVAL_S = 2.0
# Several missed beats: the owner is hung (or, with no start time recorded, gone).
STALE_AFTER_S = 15.0


class RunStopped(BaseException):
    """Raised inside a run when a stop was asked for; like Ctrl+C, the run stays resumable.
    A BaseException, so that code catching errors of a unit never swallows it."""


def process_started(pid: int | None) -> float | None:
    """When the process started, or None if it is gone or a zombie (exited, not yet reaped)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except psutil.NoSuchProcess:
        return None


def process_alive(pid: int | None) -> bool:
    try:
        return process_started(pid) is not None
    except psutil.AccessDenied:
        return True


def this_process() -> Owner:
    return Owner(os.getpid(), process_started(os.getpid()))


def _stale(heartbeat_at: datetime | None, at: datetime | None) -> bool:
    return heartbeat_at is None or (at or now()) - heartbeat_at > timedelta(seconds=STALE_AFTER_S)


def owner_alive(
    owner: Owner | None, heartbeat_at: datetime | None, at: datetime | None = None
) -> bool:
    """The recorded process is still the one that claimed the run. Without a recorded start
    time (an older store) a fresh heartbeat has to vouch for it."""
    if owner is None:
        return False
    try:
        started = process_started(owner.pid)
    except psutil.AccessDenied:
        return not _stale(heartbeat_at, at)
    if started is None:
        return False
    if owner.started is None:
        return not _stale(heartbeat_at, at)
    return abs(started - owner.started) < 1.0


def abandoned_state(
    status: str, owner: Owner | None, heartbeat_at: datetime | None, at: datetime | None = None
) -> bool:
    """Running, or queued with a worker assigned, and that process is gone: it will never
    finish by itself."""
    active = status in (RunStatus.RUNNING, RunStatus.QUEUED) and owner is not None
    return active and not owner_alive(owner, heartbeat_at, at)


def abandoned(run: RunRecord, at: datetime | None = None) -> bool:
    return abandoned_state(run.status, run.owner, run.heartbeat_at, at)


def hung(run: RunRecord, at: datetime | None = None) -> bool:
    """Running with a live owner that has not beaten its heartbeat for STALE_AFTER_S."""
    return (
        run.status == RunStatus.RUNNING and not abandoned(run, at) and _stale(run.heartbeat_at, at)
    )


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
        self.owner = this_process()
        self.finished = False
        self._stop_asked = threading.Event()
        self._cut = threading.Event()
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
        complete(); an error marks the run failed, a stop asked for marks it stopped, any other
        interruption (Ctrl+C, a page rerun) marks it interrupted; its finished units are kept."""
        if self.store.runs.claim(self.id, self.owner, owner_alive):
            self._stop_asked.set()  # stopped before it started: ends at the first check
        self._start_heartbeat()
        try:
            yield self
        except Exception as exc:
            self._end(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        except BaseException as exc:
            status = RunStatus.STOPPED if self._asked_to_stop(exc) else RunStatus.INTERRUPTED
            self._end(status, describe_interruption(exc))
            raise
        else:
            if not self.finished:
                self.complete()
        finally:
            self._stop_heartbeat()

    def complete(self, stop_reason: str | None = None) -> None:
        self._end(RunStatus.COMPLETED, None, stop_reason)

    def _asked_to_stop(self, exc: BaseException) -> bool:
        """A stop someone asked for (Stop, `perfics run --stop`), not some other interruption
        (Ctrl+C, a screen rerun, a bare SIGTERM): those leave the run interrupted."""
        if not isinstance(exc, RunStopped):
            return False
        if self._stop_asked.is_set():
            return True
        try:
            return self.store.runs.stop_requested(self.id)
        except Exception:  # noqa: BLE001 - a busy database: call it an interruption
            return False

    def work_through(
        self,
        step: Callable[[RunUnit], None],
        on_progress: Callable[[int, int, float | None], None] | None = None,
    ) -> None:
        """Do every pending unit in order, checking for a stop before each, and report
        (done, total, seconds left) after each: the time left from this attempt's own pace."""
        todo = self.store.items.pending(self.id)
        total = self.store.runs.get(self.id).total_units or len(todo)
        finished, started = total - len(todo), time.monotonic()
        if on_progress:
            on_progress(finished, total, None)
        for n, unit in enumerate(todo, start=1):
            self.check_stop()
            step(unit)
            if on_progress:
                eta = (time.monotonic() - started) / n * (len(todo) - n)
                on_progress(finished + n, total, eta)

    def check_stop(self) -> None:
        """Call between steps: raises RunStopped once a stop has been asked for, or once this
        process is leaving the run (cut_short)."""
        if self._stop_asked.is_set() or self._cut.is_set():
            raise RunStopped

    def cut_short(self) -> None:
        """Make units still in flight on other threads end at their next check, when this
        process is leaving the run for some other reason (Ctrl+C, a signal). Unlike a stop
        asked for, it does not mark the run stopped."""
        self._cut.set()

    def _end(self, status: RunStatus, error: str | None, stop_reason: str | None = None) -> None:
        # The heartbeat writes the same row; stop it first so the two never conflict.
        self._stop_heartbeat()
        self.finished = True
        self.store.runs.end_if_owned(self.id, self.owner, status, error, stop_reason)

    def _start_heartbeat(self) -> None:
        self._quit.clear()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._thread.start()

    def _stop_heartbeat(self) -> None:
        self._quit.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None

    def _beat(self) -> None:
        while True:
            try:
                owned, stop = self.store.runs.heartbeat(self.id, self.owner)
                if stop or not owned:  # asked to stop, or the run was taken over or deleted
                    self._stop_asked.set()
            except Exception:  # noqa: BLE001 - a busy database costs one beat, never the thread
                pass
            if self._quit.wait(HEARTBEAT_INTERVAL_S):
                return
