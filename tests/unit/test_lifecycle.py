"""One run lifecycle: claim, heartbeat, stop, dead-worker detection, delete."""

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from core.app import runs
from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest, StoreError
from core.evaluation import lifecycle
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.lifecycle import (
    RunStopped,
    owner_alive,
    process_alive,
    process_started,
    this_process,
)
from core.store.duck import now
from core.types import Owner, RunStatus
from tests.support import bench_spec, fake_pool, finished_run


def _sleeper(seconds: float = 60) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_zombie_or_vanished_process_is_not_alive():
    import os

    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while process_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # not yet reaped: a zombie, which counts as dead
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid) and not process_alive(None)


def test_an_owner_is_its_pid_and_start_time_so_a_reused_pid_is_no_owner():
    me = this_process()
    fresh, stale = now(), now() - timedelta(seconds=lifecycle.STALE_AFTER_S + 1)
    assert owner_alive(me, stale)  # alive is alive, however late its last beat
    assert not owner_alive(Owner(me.pid, me.started - 100), fresh)  # same pid, other process
    # An older store recorded no start time: a fresh heartbeat has to vouch for the pid.
    assert owner_alive(Owner(me.pid, None), fresh)
    assert not owner_alive(Owner(me.pid, None), stale) and not owner_alive(Owner(me.pid), None)


def _owner(proc: subprocess.Popen) -> Owner:
    return Owner(proc.pid, process_started(proc.pid))


def test_a_run_held_by_a_live_process_cannot_be_taken_over_and_a_loser_writes_nothing(store):
    first, second = _sleeper(), _sleeper()
    try:
        run_id = create_run(store, bench_spec(limit=1), "fake")
        store.runs.claim(run_id, _owner(first), owner_alive)
        # Whatever the status says, a live owner keeps its run.
        store.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", [run_id])
        with pytest.raises(StoreError, match=f"already being worked on by process {first.pid}"):
            store.runs.claim(run_id, _owner(second), owner_alive)
        first.kill()
        first.wait()
        store.runs.claim(run_id, _owner(second), owner_alive)  # its owner is gone: allowed
        # The first owner, had it survived, would learn it lost the run and could not end it.
        assert store.runs.heartbeat(run_id, _owner(second)) == (True, False)
        assert store.runs.heartbeat(run_id, Owner(first.pid, 1.0)) == (False, True)
        assert not store.runs.end_if_owned(run_id, Owner(first.pid, 1.0), RunStatus.COMPLETED)
        assert store.runs.get(run_id).status == "running"
        assert store.runs.get(run_id).pid == second.pid
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_the_worker_beats_a_heartbeat_and_honours_a_stop_request(store, monkeypatch):
    monkeypatch.setattr(lifecycle, "HEARTBEAT_INTERVAL_S", 0.05)
    run_id = create_run(store, bench_spec(limit=20, judge=None, models=(FAKE_INFO,)), "fake")
    slow = FakeBackend(info=FAKE_INFO, delay_s=0.02)
    errors = []

    def work():
        try:
            run_benchmark(store, run_id, lambda name: slow)
        except RunStopped:
            errors.append("stopped")

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 30
    while store.runs.get(run_id).done_units < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    first_beat = store.runs.get(run_id).heartbeat_at
    time.sleep(0.3)
    assert store.runs.get(run_id).heartbeat_at > first_beat  # still beating mid-run
    store.runs.request_stop(run_id)
    worker.join(timeout=30)
    run = store.runs.get(run_id)
    assert errors == ["stopped"]
    assert (run.status, run.error) == ("stopped", "stopped on request")
    assert 2 <= run.done_units < run.total_units == 20


def test_a_queued_run_stopped_before_its_worker_claims_it_never_starts(store):
    run_id = create_run(store, bench_spec(limit=2), "fake")
    assert runs.stop_run(run_id) == "Stopped before it started."
    assert store.runs.get(run_id).status == "stopped"
    with pytest.raises(RunStopped):
        run_benchmark(store, run_id, fake_pool())  # a worker arriving late
    assert store.runs.get(run_id).done_units == 0
    runs.prepare_resume(run_id)  # resuming withdraws the stop
    assert store.runs.get(run_id).status == "queued"
    run_benchmark(store, run_id, fake_pool())
    assert store.runs.get(run_id).status == "completed"


def test_overview_marks_a_run_whose_worker_died_interrupted(store):
    run_id = create_run(store, bench_spec(limit=1), "fake")
    dead = _sleeper()
    owner = _owner(dead)
    dead.kill()
    dead.wait()
    store.runs.claim(run_id, owner, owner_alive)
    assert store.runs.get(run_id).status == "running"
    table = runs.overview()
    assert table.status[0] == "interrupted"
    run = store.runs.get(run_id)
    assert run.status == RunStatus.INTERRUPTED and f"({dead.pid})" in run.error
    assert run.status.resumable


def test_a_queued_run_whose_worker_died_before_claiming_it_is_interrupted(store):
    run_id = create_run(store, bench_spec(limit=1), "fake")
    assert list(runs.overview().status) == ["queued"]  # no worker yet: simply waiting
    dead = _sleeper()
    store.runs.assign_worker(run_id, _owner(dead))
    assert list(runs.overview().status) == ["queued"]
    with pytest.raises(InvalidRequest, match="already has a worker starting"):
        runs.prepare_resume(run_id)  # a second Resume click starts no second worker
    dead.kill()
    dead.wait()
    assert list(runs.overview().status) == ["interrupted"]


def test_a_hung_worker_stays_running_until_stop_kills_it(store):
    # A sleeping process whose command line names our worker module, as a real one would.
    hung = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "core.app.worker"]
    )
    live = _sleeper()
    try:
        old, young = (create_run(store, bench_spec(limit=1), "fake") for _ in range(2))
        store.runs.claim(old, _owner(hung), owner_alive)
        store.runs.claim(young, _owner(live), owner_alive)
        stale = now() - timedelta(seconds=lifecycle.STALE_AFTER_S * 2)
        store.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [stale, old])
        status = dict(zip(runs.overview().id, runs.overview().status, strict=True))
        assert status == {old: "running", young: "running"}  # alive, if silent
        with pytest.raises(InvalidRequest, match="stop it before deleting"):
            runs.delete_run(young)
        with pytest.raises(InvalidRequest, match="already running"):
            runs.prepare_resume(young)
        assert "killed" in runs.stop_run(old)
        hung.wait(timeout=10)
        run = store.runs.get(old)
        assert run.status == "stopped" and "hung" in run.error and run.status.resumable
        # A process that is not one of ours is only asked, never signalled.
        assert runs.stop_run(young).startswith("Stopping")
        assert live.poll() is None and store.runs.get(young).status == "running"
    finally:
        for proc in (hung, live):
            proc.kill()
            proc.wait()


def test_only_benchmarks_can_be_resumed_or_stopped_as_runs(store):
    from core.evaluation.refine import run_refinement
    from core.types import RefineRequest

    refinement = run_refinement(store, FakeBackend(fail_on_call=1), RefineRequest("Q?", 1))
    assert store.runs.get(refinement.run_id).status == "failed"
    for action in (runs.prepare_resume, runs.stop_run):
        with pytest.raises(InvalidRequest, match="is a refine run"):
            action(refinement.run_id)
    assert store.runs.get(refinement.run_id).status == "failed"  # untouched


def test_delete_removes_the_run_and_everything_under_it(store):
    run_id = finished_run(store, limit=2)
    keep = finished_run(store, limit=1)
    counts = "SELECT (SELECT count(*) FROM {0} WHERE run_id = ?)"
    tables = ("run_items", "generations", "judgments")
    assert all(store.db.scalar(counts.format(t), [run_id]) > 0 for t in tables)
    runs.delete_run(run_id)
    assert all(store.db.scalar(counts.format(t), [run_id]) == 0 for t in tables)
    assert list(runs.overview().id) == [keep]
    with pytest.raises(Exception, match="No run with id"):
        store.runs.get(run_id)


def test_stop_and_resume_refuse_what_makes_no_sense(store):
    run_id = finished_run(store, limit=1)
    with pytest.raises(InvalidRequest, match="not running"):
        runs.stop_run(run_id)
    with pytest.raises(InvalidRequest, match="already completed"):
        runs.prepare_resume(run_id)
