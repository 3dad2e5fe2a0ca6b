"""The background worker as a real process: started by the app or `perfics run --background`,
stopped with SIGTERM through stop_run, and reaped so that no zombie is left behind."""

import os
import time

import pytest

from core.app import runs, worker
from core.engine.fake import FAKE_INFO
from core.evaluation.lifecycle import process_alive
from tests.support import bench_spec, run_cli

FAKE = {"PERFICS_BACKEND": "fake", "PERFICS_FAKE_DELAY_S": "0.05"}


def _spec(limit: int):
    """A model the worker process can find: fake-echo exists in every fake-mode model list."""
    return bench_spec(limit=limit, models=(FAKE_INFO,))


@pytest.fixture
def fake_worker_env(monkeypatch):
    for name, value in FAKE.items():
        monkeypatch.setenv(name, value)


def _wait_for(condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail("timed out")


def test_a_launched_worker_finishes_the_run_and_is_reaped(store, fake_worker_env):
    run_id = runs.start_run(_spec(2))
    (child,) = worker._children
    _wait_for(lambda: store.runs.get(run_id).status == "completed")
    _wait_for(lambda: child.poll() is not None)  # exited; until reaped it is a zombie
    assert not process_alive(child.pid)
    runs.overview()  # every overview reaps finished workers
    assert worker._children == []
    assert child.returncode == 0
    log = worker.log_path(run_id).read_text()
    assert f"run {run_id} completed" in log


def test_stop_run_signals_the_worker_which_ends_stopped_and_resumable(store, fake_worker_env):
    run_id = runs.start_run(_spec(20))
    _wait_for(lambda: store.runs.get(run_id).done_units >= 2)
    pid = store.runs.get(run_id).pid
    assert runs.stop_run(run_id).startswith("Stopping")
    _wait_for(lambda: not process_alive(pid), timeout=10)
    run = store.runs.get(run_id)
    assert (run.status, run.error) == ("stopped", "stopped on request")
    assert run.status.resumable and run.done_units < run.total_units
    assert "stopped on request" in worker.log_path(run_id).read_text()
    runs.resume_run(run_id)
    _wait_for(lambda: store.runs.get(run_id).status == "completed", timeout=120)


def test_cli_background_run_stop_and_delete(store):
    started = run_cli(
        "run",
        "--suite",
        "builtin",
        "--models",
        "fake",
        "--limit",
        "30",
        "--rounds",
        "1",
        "--background",
        env=FAKE,
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1]
    assert "working in the background" in started.stdout
    _wait_for(lambda: store.runs.get(run_id).status == "running")
    stopped = run_cli("run", "--stop", run_id, env=FAKE)
    assert stopped.returncode == 0 and "Stopping" in stopped.stderr
    _wait_for(lambda: store.runs.get(run_id).status == "stopped", timeout=15)
    refused = run_cli("run", "--stop", run_id, env=FAKE)
    assert refused.returncode == 1 and "not running" in refused.stderr
    assert "Traceback" not in refused.stderr
    deleted = run_cli("run", "--delete", run_id, env=FAKE)
    assert deleted.returncode == 0, deleted.stderr
    assert store.db.scalar("SELECT count(*) FROM run_items WHERE run_id = ?", [run_id]) == 0
    assert os.path.exists(worker.log_path(run_id))  # the log stays, for the record
