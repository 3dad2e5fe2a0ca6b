"""One run lifecycle: claim, heartbeat, stop, dead-worker detection, delete."""

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from core.app import runs
from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest
from core.evaluation import lifecycle
from core.evaluation.benchmark import create_run, execute
from core.evaluation.lifecycle import RunStopped, owner_alive, process_alive
from core.store.duck import now
from core.types import RunStatus
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


def test_a_live_owner_with_a_stale_heartbeat_is_dead():
    import os

    fresh, stale = now(), now() - timedelta(seconds=lifecycle.STALE_AFTER_S + 1)
    assert owner_alive(os.getpid(), fresh) and owner_alive(os.getpid(), None)
    assert not owner_alive(os.getpid(), stale)


def test_the_worker_beats_a_heartbeat_and_honours_a_stop_request(store, monkeypatch):
    monkeypatch.setattr(lifecycle, "HEARTBEAT_INTERVAL_S", 0.05)
    run_id = create_run(store, bench_spec(limit=20, judge=None, models=(FAKE_INFO,)), "fake")
    slow = FakeBackend(info=FAKE_INFO, delay_s=0.02)
    errors = []

    def work():
        try:
            execute(store, run_id, lambda name: slow)
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
    assert (run.status, run.error) == ("interrupted", "stopped on request")
    assert 2 <= run.done_units < run.total_units == 20


def test_a_queued_run_stopped_before_its_worker_claims_it_never_starts(store):
    run_id = create_run(store, bench_spec(limit=2), "fake")
    assert runs.stop_run(run_id) == "Stopped before it started."
    assert store.runs.get(run_id).status == "interrupted"
    with pytest.raises(RunStopped):
        execute(store, run_id, fake_pool())  # a worker arriving late
    assert store.runs.get(run_id).done_units == 0
    runs.prepare_resume(run_id)  # resuming withdraws the stop
    assert store.runs.get(run_id).status == "queued"
    execute(store, run_id, fake_pool())
    assert store.runs.get(run_id).status == "completed"


def test_overview_marks_a_run_whose_worker_died_interrupted(store):
    run_id = create_run(store, bench_spec(limit=1), "fake")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.runs.claim(run_id, dead.pid, lambda pid, beat: False)
    assert store.runs.get(run_id).status == "running"
    table = runs.overview()
    assert table.status[0] == "interrupted"
    run = store.runs.get(run_id)
    assert run.status == RunStatus.INTERRUPTED and f"({dead.pid})" in run.error
    assert run.status.resumable


def test_overview_marks_a_hung_worker_interrupted_and_leaves_a_live_one_alone(store):
    hung, live = _sleeper(), _sleeper()
    try:
        old, young = (create_run(store, bench_spec(limit=1), "fake") for _ in range(2))
        store.runs.claim(old, hung.pid, lambda pid, beat: False)
        store.runs.claim(young, live.pid, lambda pid, beat: False)
        stale = now() - timedelta(seconds=lifecycle.STALE_AFTER_S * 2)
        store.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [stale, old])
        status = dict(zip(runs.overview().id, runs.overview().status, strict=True))
        assert status == {old: "interrupted", young: "running"}
        with pytest.raises(InvalidRequest, match="stop it before deleting"):
            runs.delete_run(young)
        with pytest.raises(InvalidRequest, match="already running"):
            runs.prepare_resume(young)
    finally:
        for proc in (hung, live):
            proc.kill()
            proc.wait()


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
