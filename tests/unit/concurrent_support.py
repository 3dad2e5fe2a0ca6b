"""What the concurrent-run tests share: endpoint models that are never contacted, stand-in
backends that answer as the fake backend does with no lock and count the calls they have in
flight, and a comparison of a run's stored content with the same run done serially.

Lanes proven full meet at a barrier: a Gauge's first `meet` calls wait for each other, which
they can only do when that many units run at once (a scheduler holding fewer breaks the
barrier, and with it the test, instead of hanging)."""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import contextmanager

from core.engine.fake import FakeBackend
from core.errors import EndpointUnavailable
from core.evaluation.benchmark import create_run, run_benchmark
from core.store import Store
from core.types import EndpointConfig
from tests.support import assert_no_duplicates, fake_model

PAUSE_S = 0.003  # long enough for calls to overlap when a scheduler lets them
GUARD_S = 60  # only a broken scheduler ever waits this long


def endpoint_model(name: str, digit: str, max_concurrency: int = 1, replicas: int = 0):
    """A model served by an endpoint that is never contacted (its stand-in answers)."""
    config = EndpointConfig(
        name=name,
        base_url="http://127.0.0.1:9/v1",
        model="served-model",
        max_concurrency=max_concurrency,
        replicas=tuple(f"http://127.0.0.1:{10 + i}/v1" for i in range(replicas)),
    )
    return fake_model(name, digit, endpoint=config)


class Gauge:
    """Calls in flight on a group of backends: the most ever at once, and the threads."""

    def __init__(self, meet=0, fail_on=frozenset(), pause_s=PAUSE_S):
        self.lock = threading.Lock()
        self.pause_s = pause_s
        self.now = self.most = self.calls = 0
        self.meet, self.fail_on = meet, fail_on
        self.barrier = threading.Barrier(meet, timeout=GUARD_S) if meet > 1 else None
        self.threads: set[str] = set()

    @contextmanager
    def call(self, info):
        with self.lock:
            self.calls += 1
            number = self.calls
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread().name)
        try:
            if self.barrier and number <= self.meet:
                self.barrier.wait()
            time.sleep(self.pause_s)
            if number in self.fail_on:
                raise EndpointUnavailable(info.name, "http://127.0.0.1:9/v1", "connection refused")
            yield
        finally:
            with self.lock:
                self.now -= 1


class StandIn:
    """Answers exactly as the fake backend does, with no lock, counting on its gauge."""

    def __init__(self, info, gauge: Gauge):
        self.info, self.gauge, self.version = info, gauge, "stand-in"

    def chat(self, messages, settings, on_token=None):
        with self.gauge.call(self.info):
            return FakeBackend(info=self.info).chat(messages, settings, on_token)

    def score_choices(self, messages, prefix, choices):
        with self.gauge.call(self.info):
            return FakeBackend(info=self.info).score_choices(messages, prefix, choices)


def loader(backends: dict):
    return lambda name: backends[name]


def serial_reference(spec, path) -> tuple[Store, str]:
    """The same run done serially on locked fake backends, in a store of its own."""
    store = Store(path)
    run_id = create_run(store, spec, "fake")
    fakes = {
        m.name: FakeBackend(info=dataclasses.replace(m, endpoint=None))
        for m in (*spec.models, *([spec.judge] if spec.judge else []))
    }
    run_benchmark(store, run_id, loader(fakes))
    return store, run_id


def content(store: Store, run_id: str):
    """What a run stored, unit by unit: outcomes, every generation, every judgment."""
    q = store.db.rows
    items = q(
        "SELECT item_no, kind, model_name, other_model_name, status, error, baseline, final "
        "FROM run_items WHERE run_id = ? ORDER BY item_no",
        [run_id],
    )
    gens = q(
        "SELECT item_no, step, kind, model_name, text FROM generations WHERE run_id = ? "
        "ORDER BY item_no, step",
        [run_id],
    )
    judged = q(
        "SELECT item_no, kind, subject, order_ab, status, score, verdict FROM judgments "
        "WHERE run_id = ? ORDER BY item_no, kind, subject, order_ab",
        [run_id],
    )
    return items, gens, judged


def assert_stored_once_as_serially(store: Store, run_id: str, spec, tmp_path) -> None:
    """Every unit done, stored once, with exactly what the serial run stores."""
    assert_no_duplicates(store, run_id)
    items, gens, judged = content(store, run_id)
    assert {row[4] for row in items} == {"done"}
    reference, ref_id = serial_reference(spec, tmp_path / "serial.duckdb")
    ref_items, ref_gens, ref_judged = content(reference, ref_id)
    assert items == ref_items
    assert gens == ref_gens
    assert judged == ref_judged
    assert len(gens) > len(items)  # the refinement steps are there, not just the outcomes
