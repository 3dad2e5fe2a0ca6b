"""Benchmark runs on the real endpoint backend against the stub server: a refused request fails
its item only, a server that went away stops the run resumable, and the resumed run stores
every unit once."""

import pytest

from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info
from core.errors import EndpointUnavailable
from core.evaluation.benchmark import create_run, run_benchmark
from core.store import Store
from core.types import EndpointConfig
from tests.support import assert_no_duplicates, bench_spec


def served(stub, sleeps):
    config = EndpointConfig(name="served", base_url=stub.url, model="served-model")
    info = endpoint_model_info(config)
    return info, EndpointBackend(info, sleep=sleeps.append, retries=1)


def test_a_refused_request_fails_its_item_and_the_run_goes_on(openai_stub, tmp_path):
    info, backend = served(openai_stub, [])
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(models=(info,), judge=None, limit=3), "endpoint")
    openai_stub.fail("400")
    assert run_benchmark(store, run_id, lambda name: backend) == "completed"
    rows = store.db.rows(
        "SELECT status, error FROM run_items WHERE run_id = ? ORDER BY item_no", [run_id]
    )
    assert [status for status, _ in rows].count("failed") == 1
    [error] = [error for status, error in rows if status == "failed"]
    assert "HTTP 400: stub fault 400" in error
    assert [status for status, _ in rows].count("done") == 2


def test_a_server_that_went_away_stops_the_run_resumably(openai_stub, tmp_path):
    sleeps = []
    info, backend = served(openai_stub, sleeps)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(models=(info,), judge=None, limit=3), "endpoint")
    openai_stub.stop()
    with pytest.raises(EndpointUnavailable, match="connection refused; gave up after 2 tries"):
        run_benchmark(store, run_id, lambda name: backend)
    failed = store.runs.get(run_id)
    assert failed.status == "failed" and "connection refused" in failed.error
    assert len(store.items.pending(run_id)) == 3 and sleeps == [pytest.approx(0.5, rel=0.25)]
    store.runs.requeue(run_id)
    openai_stub.start()  # back on the same port
    assert run_benchmark(store, run_id, lambda name: backend) == "completed"
    assert store.items.pending(run_id) == []
    assert_no_duplicates(store, run_id)
