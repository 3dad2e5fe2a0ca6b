"""Concurrent runs (issue 14) on stand-in endpoint backends: units spread over endpoint
lanes, each lane holding at most its capacity and filling it, local models one unit at a time
on the calling thread, pairs judged only after their answers, and every unit stored exactly
once, with what the same run stores serially: after a stop, a Ctrl+C, an endpoint error or a
judge that went away, and once resumed. The stand-ins are in concurrent_support.py."""

from __future__ import annotations

import threading
import time

import pytest

from core.engine.fake import FakeBackend
from core.errors import EndpointUnavailable
from core.evaluation.benchmark import _Executor, create_run, run_benchmark
from core.evaluation.coding_run import create_coding_run, run_coding
from core.evaluation.concurrent import Lane, lane_for, work_concurrently
from core.evaluation.lifecycle import RunLifecycle, RunStopped
from core.store import Store
from core.types import ItemKind, ItemOutcome
from core.types.classification import Codebook, CodebookLabel, CodingSpec, TextRecord
from tests.support import FAKE_TWO, bench_spec, fake_model
from tests.unit.concurrent_support import (
    GUARD_S,
    PAUSE_S,
    Gauge,
    StandIn,
    assert_stored_once_as_serially,
    endpoint_model,
    loader,
)


def test_endpoint_lane_fills_to_its_capacity_and_local_models_take_turns(tmp_path):
    # Three replicas of one served model, one request each: three units at once.
    local_a, local_b = fake_model("local-a", "a"), fake_model("local-b", "b")
    served = endpoint_model("served", "e", max_concurrency=1, replicas=2)
    spec = bench_spec(models=(local_a, local_b, served), judge=None, limit=4)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    # Calls longer than a store write, so that two local units running at once would overlap.
    local, remote = Gauge(pause_s=0.03), Gauge(meet=3, pause_s=0.03)
    backends = {
        "local-a": StandIn(local_a, local),
        "local-b": StandIn(local_b, local),
        "served": StandIn(served, remote),
    }
    seen = []
    status = run_benchmark(store, run_id, loader(backends), lambda *p: seen.append(p[:2]))
    assert status == "completed"
    assert remote.most == 3  # the barrier proves three; never a fourth
    assert local.most == 1  # both local models share one lane of one unit
    assert "MainThread" not in remote.threads | local.threads
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    assert [done for done, _ in seen] == list(range(13))
    assert_stored_once_as_serially(store, run_id, spec, tmp_path)


def test_pairs_are_judged_after_their_answers_on_a_lane_shared_with_a_candidate(tmp_path):
    # The judge is a candidate too, on a lane of one: its answers and every pair queue there
    # while the other candidates' lanes run ahead.
    third = fake_model("fake-three", "3")
    judge = fake_model("fake-echo", "0")
    spec = bench_spec(models=(judge, FAKE_TWO, third), judge=judge, limit=4)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    lanes = {"fake-echo": Lane("one", 1), "fake-two": Lane("two", 2), "fake-three": Lane("3", 3)}
    lock = threading.Lock()
    busy = dict.fromkeys(lanes.values(), 0)
    most = dict.fromkeys(lanes.values(), 0)
    finished, too_early, attempts = set(), [], []

    def lane_of(unit):
        return lanes["fake-echo" if unit.key.kind == ItemKind.PAIR else unit.key.model]

    def step(unit):
        lane = lane_of(unit)
        with lock:
            attempts.append(unit.no)
            if not set(_Executor.needs(unit)) <= finished:
                too_early.append(unit.no)
            busy[lane] += 1
            most[lane] = max(most[lane], busy[lane])
        # The third model answers slowly: pairs started early would overtake its answers.
        slow = unit.key.kind == ItemKind.ANSWER and unit.key.model == "fake-three"
        time.sleep(0.05 if slow else PAUSE_S)
        store.items.finish(run_id, unit.no, ItemOutcome("done", PAUSE_S))
        with lock:
            busy[lane] -= 1
            finished.add(unit.key)

    run = RunLifecycle(store, run_id)
    seen = []

    def work():
        with run.working():
            work_concurrently(run, step, lane_of, _Executor.needs, lambda *p: seen.append(p[0]))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(GUARD_S)
    assert not worker.is_alive(), "the scheduler deadlocked"
    assert too_early == []
    assert sorted(attempts) == list(range(4 * 6))  # each unit once: 3 answers + 3 pairs each
    assert all(most[lane] <= lane.capacity for lane in lanes.values())
    assert most[lanes["fake-echo"]] == 1
    assert store.items.pending(run_id) == [] and store.runs.get(run_id).status == "completed"
    assert seen[-1] == 24


def test_a_stop_mid_run_keeps_finished_units_and_the_resume_stores_each_once(tmp_path):
    local = fake_model("local-a", "a")
    served = endpoint_model("served", "e", max_concurrency=3)
    judge = endpoint_model("judge", "j", max_concurrency=2)
    spec = bench_spec(models=(local, served), judge=judge, limit=5)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")

    def backends():
        shared = Gauge()
        return loader({m.name: StandIn(m, shared) for m in (local, served, judge)})

    def stop_after_four(done, total, eta):
        if done == 4:  # as Stop does: asked for in the store, then a signal to the worker
            store.runs.request_stop(run_id)
            raise RunStopped

    with pytest.raises(RunStopped):
        run_benchmark(store, run_id, backends(), stop_after_four)
    stopped = store.runs.get(run_id)
    assert stopped.status == "stopped"
    before = dict(
        store.db.rows(
            "SELECT item_no, finished_at FROM run_items WHERE run_id = ? AND status <> 'pending'",
            [run_id],
        )
    )
    assert 4 <= len(before) < 15 and store.items.pending(run_id)
    store.runs.requeue(run_id)
    assert run_benchmark(store, run_id, backends()) == "completed"
    after = dict(
        store.db.rows("SELECT item_no, finished_at FROM run_items WHERE run_id = ?", [run_id])
    )
    assert all(after[no] == at for no, at in before.items())  # finished units were not redone
    assert_stored_once_as_serially(store, run_id, spec, tmp_path)


class Held(StandIn):
    """A stand-in whose first call waits until `release` is set."""

    def __init__(self, info, gauge, release: threading.Event):
        super().__init__(info, gauge)
        self.release = release

    def chat(self, messages, settings, on_token=None):
        if self.gauge.calls == 0:
            assert self.release.wait(GUARD_S)
        return super().chat(messages, settings, on_token)


def test_an_interrupted_process_cuts_the_units_in_flight_at_their_next_check(tmp_path):
    local = fake_model("local-a", "a")
    served = endpoint_model("served", "e")
    spec = bench_spec(models=(local, served), judge=None, limit=3)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    release = threading.Event()
    held = Held(served, Gauge(), release)

    def ctrl_c_after_the_first(done, total, eta):
        if done == 1:  # a local answer; the served one is still held in its first call
            release.set()
            raise KeyboardInterrupt

    backends = {"local-a": FakeBackend(info=local), "served": held}
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(store, run_id, loader(backends), ctrl_c_after_the_first)
    assert store.runs.get(run_id).status == "interrupted"  # not "stopped": nobody asked
    finished = store.db.rows(
        "SELECT model_name FROM run_items WHERE run_id = ? AND status <> 'pending'", [run_id]
    )
    assert finished == [("local-a",)]  # the held unit ended at its check, before finishing
    assert held.gauge.calls == 1
    store.runs.requeue(run_id)
    backends["served"] = StandIn(served, Gauge())
    assert run_benchmark(store, run_id, loader(backends)) == "completed"
    assert_stored_once_as_serially(store, run_id, spec, tmp_path)


def test_an_endpoint_going_away_fails_the_run_resumably(tmp_path):
    local = fake_model("local-a", "a")
    served = endpoint_model("served", "e", max_concurrency=2)
    spec = bench_spec(models=(local, served), judge=local, limit=4)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    broken = Gauge(fail_on=frozenset({5}))
    with pytest.raises(EndpointUnavailable):
        run_benchmark(
            store,
            run_id,
            loader({"local-a": FakeBackend(info=local), "served": StandIn(served, broken)}),
        )
    failed = store.runs.get(run_id)
    assert failed.status == "failed" and "connection refused" in failed.error
    left = store.items.pending(run_id)
    assert any(u.key.model == "served" for u in left)
    assert broken.calls > 5  # the unit in flight beside the failing one went on to its end
    store.runs.requeue(run_id)
    healthy = {"local-a": FakeBackend(info=local), "served": StandIn(served, Gauge())}
    assert run_benchmark(store, run_id, loader(healthy)) == "completed"
    assert_stored_once_as_serially(store, run_id, spec, tmp_path)


def test_a_judge_that_went_away_leaves_its_unit_pending_rather_than_judged_failed(tmp_path):
    served = endpoint_model("served", "e", max_concurrency=2)
    judge = endpoint_model("judge", "j", max_concurrency=2)
    spec = bench_spec(models=(served,), judge=judge, limit=3)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    backends = {
        "served": StandIn(served, Gauge()),
        "judge": StandIn(judge, Gauge(fail_on=frozenset({1}))),
    }
    with pytest.raises(EndpointUnavailable):
        run_benchmark(store, run_id, loader(backends))
    failed_judgments = store.db.scalar(
        "SELECT count(*) FROM judgments WHERE run_id = ? AND status = 'failed'", [run_id]
    )
    assert failed_judgments == 0 and store.items.pending(run_id)
    store.runs.requeue(run_id)
    backends["judge"] = StandIn(judge, Gauge())
    assert run_benchmark(store, run_id, loader(backends)) == "completed"
    assert_stored_once_as_serially(store, run_id, spec, tmp_path)


def test_a_run_of_local_models_alone_runs_serially_on_the_calling_thread(tmp_path):
    local_a, local_b = fake_model("local-a", "a"), fake_model("local-b", "b")
    spec = bench_spec(models=(local_a, local_b), judge=local_a, limit=3)
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, spec, "fake")
    gauge = Gauge()
    order = []
    backends = {m.name: StandIn(m, gauge) for m in (local_a, local_b)}
    step = store.items.finish

    def finish(run, no, *rest):
        order.append(no)
        step(run, no, *rest)

    store.items.finish = finish
    seen = []
    assert (
        run_benchmark(store, run_id, loader(backends), lambda *p: seen.append(p[:2])) == "completed"
    )
    assert gauge.threads == {"MainThread"} and gauge.most == 1
    assert order == list(range(9))  # the planned order: answers, then their pair, per question
    assert seen == [(n, 9) for n in range(10)]


BOOK = Codebook("topics", (CodebookLabel("H", "Health"), CodebookLabel("M", "Money")))


def test_coding_run_codes_with_endpoint_coders_several_at_once(tmp_path):
    store = Store(tmp_path / "run.duckdb")
    store.init()
    texts = [TextRecord(f"t{i}", f"A bill on topic number {i}") for i in range(8)]
    store.datasets.save("bills", "test", texts)
    store.codebooks.save(BOOK, "test")
    local = fake_model("local-coder", "a")
    served = endpoint_model("served-coder", "e", max_concurrency=2)
    run_id = create_coding_run(store, CodingSpec("bills", "topics", (local, served)), "fake")
    local_gauge, remote = Gauge(), Gauge(meet=2)
    backends = {"local-coder": StandIn(local, local_gauge), "served-coder": StandIn(served, remote)}
    assert run_coding(store, run_id, loader(backends)) == "completed"
    assert remote.most == 2 and local_gauge.most == 1
    rows = store.db.rows(
        "SELECT i.status, count(DISTINCT i.item_no), count(c.item_no) FROM run_items i "
        "LEFT JOIN cls_codings c USING (run_id, item_no) WHERE i.run_id = ? GROUP BY ALL",
        [run_id],
    )
    assert rows == [("done", 16, 16)]
    labels = store.db.rows(
        "SELECT item_no, count(*) FROM cls_proposals WHERE run_id = ? GROUP BY ALL", [run_id]
    )
    assert len(labels) == 16 and {n for _, n in labels} == {1}


def test_local_models_share_one_lane_and_each_endpoint_has_its_own():
    one, two = fake_model("local-a", "a"), fake_model("local-b", "b")
    served = endpoint_model("served", "e", max_concurrency=4, replicas=1)
    assert lane_for(one) == lane_for(two) == Lane("this machine", 1)
    assert lane_for(served) == Lane("endpoint served", 8)  # 4 per URL, two URLs


def test_units_whose_needs_can_never_be_met_fail_the_run_instead_of_completing_it(tmp_path):
    store = Store(tmp_path / "run.duckdb")
    run_id = create_run(store, bench_spec(judge=None, limit=1), "fake")
    first, second = store.items.pending(run_id)
    each_other = {first.no: (second.key,), second.no: (first.key,)}
    run = RunLifecycle(store, run_id)
    with pytest.raises(RuntimeError, match="need units"), run.working():
        work_concurrently(
            run, lambda unit: None, lambda unit: Lane("wide", 2), lambda u: each_other[u.no]
        )
    assert store.runs.get(run_id).status == "failed" and len(store.items.pending(run_id)) == 2
