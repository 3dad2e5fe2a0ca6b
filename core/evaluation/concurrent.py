"""Working through a run's pending units with several in flight.

Each unit goes down a lane: the model whose calls it makes (for a benchmark's pair, the
judge). An endpoint's lane holds as many units at once as the endpoint may have requests in
flight over all its replicas; every local GGUF model shares one lane of one unit, because
local models share this machine's cores and a second one running beside the first would only
slow both down and spoil the speeds measured. A unit starts only when its lane has room and
the units it needs (a pair's two answers) are done, so no thread ever waits for another unit
and the scheduler cannot deadlock: a unit holds no lane while it waits for anything but its
own calls.

Only this process's main thread submits units, reports progress and checks for a stop; each
unit still checks for a stop between its own calls. A stop or an error in one unit submits
nothing more, lets the units in flight finish (or end at their next check, when this process
is being interrupted), then raises the first error. Units cut short stay pending, and
discard_partial clears what they left when the run resumes, as in a serial run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from core.evaluation.lifecycle import RunLifecycle
from core.types import ItemKey, ModelInfo, RunUnit

OnProgress = Callable[[int, int, float | None], None] | None  # done, total, eta seconds
# Threads beyond this only queue: the lanes' capacities still bound what is in flight.
MAX_THREADS = 32


@dataclass(frozen=True)
class Lane:
    """Where a unit's calls go, and how many units may be in flight there at once."""

    name: str
    capacity: int


LOCAL_LANE = Lane("this machine", 1)


def lane_for(info: ModelInfo) -> Lane:
    if info.endpoint is None:
        return LOCAL_LANE
    return Lane(f"endpoint {info.endpoint.name}", info.endpoint.capacity)


def no_needs(unit: RunUnit) -> tuple[ItemKey, ...]:
    return ()


def work_concurrently(
    run: RunLifecycle,
    step: Callable[[RunUnit], None],
    lane_of: Callable[[RunUnit], Lane],
    needs: Callable[[RunUnit], Iterable[ItemKey]] = no_needs,
    on_progress: OnProgress = None,
) -> None:
    """Do every pending unit of the run, each in its lane. A run whose lanes hold one unit in
    all (only local models) is worked through serially in this thread, exactly as before:
    same order, same progress, and a stop that interrupts the unit at once."""
    todo = run.store.items.pending(run.id)
    lanes = {lane_of(unit) for unit in todo}
    if sum(lane.capacity for lane in lanes) <= 1:
        run.work_through(step, on_progress)
        return
    total = run.store.runs.get(run.id).total_units or len(todo)
    _Scheduler(run, step, lane_of, needs, on_progress, todo, total, lanes).work()


class _Scheduler:
    def __init__(self, run, step, lane_of, needs, on_progress, todo, total, lanes):
        self.run, self.step, self.on_progress = run, step, on_progress
        self.todo, self.total = todo, total
        self.lane_of = {unit.no: lane_of(unit) for unit in todo}
        pending = {unit.key for unit in todo}
        # Only needs still pending count: pending() lists no unit finished before.
        self.needs = {unit.no: {k for k in needs(unit) if k in pending} for unit in todo}
        self.waiting = {lane: [u for u in todo if self.lane_of[u.no] == lane] for lane in lanes}
        self.busy = dict.fromkeys(lanes, 0)
        self.in_flight: dict[Future, RunUnit] = {}
        self.done: set[ItemKey] = set()
        self.threads = min(MAX_THREADS, sum(lane.capacity for lane in lanes))

    def work(self) -> None:
        finished = self.total - len(self.todo)
        if self.on_progress:
            self.on_progress(finished, self.total, None)
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"run-{self.run.id}")
        try:
            self._loop(pool, finished)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self, pool: ThreadPoolExecutor, finished: int) -> None:
        started, completed = time.monotonic(), 0
        first_error: BaseException | None = None
        try:
            while True:
                if first_error is None:
                    self.run.check_stop()
                    self._submit(pool)
                if not self.in_flight:
                    break
                ready, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
                for future in sorted(ready, key=lambda f: self.in_flight[f].no):
                    unit = self.in_flight.pop(future)
                    self.busy[self.lane_of[unit.no]] -= 1
                    error = future.exception()
                    if error is not None:
                        first_error = first_error or error
                        continue
                    self.done.add(unit.key)
                    completed += 1
                    if self.on_progress:
                        eta = (time.monotonic() - started) / completed
                        eta *= len(self.todo) - completed
                        self.on_progress(finished + completed, self.total, eta)
        except BaseException:
            # This thread was interrupted (a stop seen between units, Ctrl+C, a signal, a
            # progress callback): the units in flight end at their next check.
            self.run.cut_short()
            self._drain()
            raise
        if first_error is not None:
            raise first_error
        stranded = [unit.no for queue in self.waiting.values() for unit in queue]
        if stranded:  # needs that no unit of the run meets: never completed silently
            raise RuntimeError(f"Units {stranded[:5]} need units this run does not have.")

    def _submit(self, pool: ThreadPoolExecutor) -> None:
        """Start, in run order, every unit whose lane has room and whose needs are done."""
        for lane, queue in self.waiting.items():
            blocked, scanned = [], 0
            for unit in queue:
                if self.busy[lane] >= lane.capacity:
                    break
                scanned += 1
                if self.needs[unit.no] <= self.done:
                    self.in_flight[pool.submit(self.step, unit)] = unit
                    self.busy[lane] += 1
                else:
                    blocked.append(unit)
            self.waiting[lane] = blocked + queue[scanned:]

    def _drain(self) -> None:
        """Wait for the units in flight to end, however they end."""
        wait(self.in_flight)
        self.in_flight.clear()
