"""Concurrent runs (issue 14) through the real endpoint backend and the OpenAI stub (two
replicas going away mid-run and coming back), and what several threads of one process may
share: the store, written by eight threads at once, and the fake backend, one call at a time
like a loaded model."""

from __future__ import annotations

import threading
import time

import pytest

from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info
from core.engine.fake import FakeBackend
from core.errors import EndpointUnavailable
from core.evaluation.benchmark import create_run, run_benchmark
from core.store import Store
from core.types import EndpointConfig, ItemOutcome, SamplerSettings
from tests.support import assert_no_duplicates, bench_spec, fake_model
from tests.unit.concurrent_support import PAUSE_S, content, loader


def served_by(stubs, max_concurrency: int):
    """The endpoint model `served` on the stubs, the first its base URL, the rest replicas."""
    config = EndpointConfig(
        name="served",
        base_url=stubs[0].url,
        model="stub-model",
        max_concurrency=max_concurrency,
        replicas=tuple(s.url for s in stubs[1:]),
    )
    return endpoint_model_info(config)


def quick_retries(info) -> EndpointBackend:
    return EndpointBackend(info, retries=1, backoff_s=0.01, backoff_cap_s=0.02, cooldown_s=0.0)


def test_a_run_through_two_replicas_survives_them_going_away_and_matches_a_serial_run(
    tmp_path, make_openai_stub
):
    stubs = [make_openai_stub(delay_s=0.002), make_openai_stub(delay_s=0.002)]
    served = served_by(stubs, max_concurrency=2)
    local = fake_model("local-a", "a")
    spec = bench_spec(models=(local, served), judge=served, limit=6)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")

    def servers_go_away(done, total, eta):
        if done == 3:
            for stub in stubs:
                stub.stop()

    backends = {"local-a": FakeBackend(info=local), "served": quick_retries(served)}
    with pytest.raises(EndpointUnavailable):
        run_benchmark(store, run_id, loader(backends), servers_go_away)
    assert store.runs.get(run_id).status == "failed" and store.items.pending(run_id)
    assert max(s.max_in_flight for s in stubs) <= 2
    for stub in stubs:
        stub.start()  # the same port again
    store.runs.requeue(run_id)
    backends["served"] = quick_retries(served)
    assert run_benchmark(store, run_id, loader(backends)) == "completed"
    assert max(s.max_in_flight for s in stubs) <= 2
    assert_no_duplicates(store, run_id)
    urls = {u for (u,) in store.db.rows("SELECT DISTINCT endpoint_url FROM generations", [])}
    assert urls == {None, *(s.url for s in stubs)}  # the local model's, and both replicas'

    # The same run, one request at a time on one server, stores the same content.
    serial_stub = make_openai_stub()
    serial = Store(tmp_path / "serial.duckdb")
    serial_id = create_run(serial, spec, "fake")
    one_at_a_time = {
        "local-a": FakeBackend(info=local),
        "served": EndpointBackend(served_by([serial_stub], max_concurrency=1)),
    }
    assert run_benchmark(serial, serial_id, loader(one_at_a_time)) == "completed"
    assert serial_stub.max_in_flight == 1
    assert content(store, run_id) == content(serial, serial_id)
    judged = content(store, run_id)[2]
    assert judged and {j[4] for j in judged} == {"ok"}


def test_the_store_takes_unit_writes_from_eight_threads_at_once(tmp_path):
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(limit=8), "fake")
    units = store.items.pending(run_id)
    generation = FakeBackend().chat([{"role": "user", "content": "hi"}], SamplerSettings())
    errors = []

    def write(share):
        try:
            for unit in share:
                for step in range(3):
                    store.generations.save(generation, run_id=run_id, step=step, item_no=unit.no)
                store.items.finish(run_id, unit.no, ItemOutcome("done", 0.0))
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(units[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = store.db.rows(
        "SELECT count(*), count(DISTINCT (item_no, step)) FROM generations WHERE run_id = ?",
        [run_id],
    )
    assert counts == [(3 * len(units), 3 * len(units))]
    assert store.items.pending(run_id) == []


def test_the_fake_backend_serves_one_call_at_a_time():
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def respond(prompt):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(PAUSE_S)
        with lock:
            state["now"] -= 1
        return "an answer"

    fake = FakeBackend(responder=respond)
    settings = SamplerSettings(max_tokens=4)
    threads = [
        threading.Thread(target=fake.chat, args=([{"role": "user", "content": f"q{i}"}], settings))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["most"] == 1 and len(fake.prompts) == 8
