"""Load tests (core/evaluation/loadtest.py, core/store/loadtests.py) on a thread-safe stand-in
backend: how many requests are in flight, what is stored and how the store aggregates it
(percentiles worked by hand), failures, and a test stopped at its second level resumed."""

from collections import Counter

import pytest

from core.errors import InvalidRequest
from core.evaluation.lifecycle import RunStopped
from core.evaluation.loadtest import (
    WARM_UP_PROMPT,
    LevelFailed,
    builtin_prompts,
    create_loadtest,
    measure_level,
    parse_levels,
    plan_config,
    run_loadtest,
)
from core.evaluation.suites import builtin_questions
from core.store import Store
from core.types import ItemOutcome, RunStatus
from core.types.loadtest import LevelMeasurement, LoadRequest, LoadTestConfig
from tests.loadtest_support import StandInBackend, stored_loadtest


def config(levels=(1, 2), requests=6, backend=None) -> LoadTestConfig:
    return plan_config((backend or StandInBackend()).info, levels, requests, max_tokens=16)


def test_at_most_c_requests_are_in_flight_and_c_of_them_at_once():
    # The first two calls wait for each other: the level only ends if two were sent at once.
    backend = StandInBackend(gate=2)
    cfg = config(requests=6)
    level = measure_level(backend, cfg, 2)
    assert backend.max_in_flight == 2
    assert sorted(r.no for r in level.requests) == list(range(6))
    assert sorted(backend.prompts) == sorted(cfg.prompt(i) for i in range(6))
    assert all(r.ok and r.completion_tokens == 3 and r.ttft_s is not None for r in level.requests)
    assert level.server == "stand-in/1.0"
    last_reply = max(r.started_s + r.latency_s for r in level.requests)
    assert level.seconds == pytest.approx(last_reply - min(r.started_s for r in level.requests))


def test_at_concurrency_one_each_request_waits_for_the_last_reply():
    backend = StandInBackend()
    level = measure_level(backend, config(requests=4), 1)
    assert backend.max_in_flight == 1
    ordered = sorted(level.requests, key=lambda r: r.no)
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert after.started_s >= before.started_s + before.latency_s


def test_more_threads_than_requests_are_never_started():
    backend = StandInBackend(gate=2)
    level = measure_level(backend, config(requests=2), 8)
    assert len(level.requests) == 2 and backend.max_in_flight == 2


def test_failed_requests_are_counted_with_their_reason(store):
    cfg = config(requests=6)
    refused = {cfg.prompt(1), cfg.prompt(4)}
    backend = StandInBackend(fail=lambda p: "connection refused" if p in refused else None)
    run_id = stored_loadtest(store, levels=(2,), requests=6, backend=backend)
    (level,) = store.loadtests.levels(run_id)
    assert (level.requests, level.succeeded, level.failed) == (6, 4, 2)
    (reason, n), *others = level.failures
    assert n == 2 and "connection refused" in reason and "stand-in" in reason and not others
    assert level.output_tokens == 4 * 3  # failed requests produce nothing


def _stored_level(store: Store) -> str:
    """A load test whose one level is written by hand: latencies 1-4 s succeeded (TTFT
    0.1-0.4 s), one of 100 s failed."""
    run_id = create_loadtest(store, config(levels=(3,), requests=5))
    ok = [
        LoadRequest(no, True, 0.1 * no, latency, ttft, 10 + no, 20, "http://127.0.0.1:9/v1")
        for no, (latency, ttft) in enumerate([(4.0, 0.4), (1.0, 0.1), (3.0, 0.3), (2.0, 0.2)])
    ]
    failed = LoadRequest(4, False, 0.5, 100.0, error="HTTP 500")
    level = LevelMeasurement(3, 8.0, (*ok, failed), server="stub/1")
    store.loadtests.finish_level(run_id, 0, ItemOutcome("done", 8.0), level)
    return run_id


def test_percentiles_are_interpolated_between_nearest_ranks_over_successes(store):
    run_id = _stored_level(store)
    # A fresh store on the same DuckDB file: what was written is what is read.
    (level,) = Store(store.path).loadtests.levels(run_id)
    assert (level.concurrency, level.requests, level.succeeded, level.failed) == (3, 5, 4, 1)
    # Sorted 1, 2, 3, 4 s: p at position 3p. p50 -> 1.5 -> 2.5; p90 -> 2.7 -> 3.7; p99 -> 3.97.
    assert level.latency_p50_s == pytest.approx(2.5)
    assert level.latency_p90_s == pytest.approx(3.7)
    assert level.latency_p99_s == pytest.approx(3.97)
    assert level.ttft_p50_s == pytest.approx(0.25)
    assert level.ttft_p90_s == pytest.approx(0.37)
    assert (level.output_tokens, level.prompt_tokens) == (80, 10 + 11 + 12 + 13)
    assert level.requests_per_s == pytest.approx(4 / 8.0)
    assert level.output_tokens_per_s == pytest.approx(80 / 8.0)
    assert level.mean_prompt_tokens == pytest.approx(46 / 4)
    assert level.failures == (("HTTP 500", 1),) and level.server == "stub/1"


def test_a_load_test_is_stored_whole_and_its_warm_up_is_not(store):
    backend = StandInBackend()
    run_id = stored_loadtest(store, levels=(1, 2, 4), requests=3, backend=backend)
    (test,) = Store(store.path).loadtests.tests()
    assert test.id == run_id and test.status == RunStatus.COMPLETED
    assert test.config == config(levels=(1, 2, 4), requests=3)
    assert [lv.concurrency for lv in test.levels] == [1, 2, 4]
    assert all((lv.requests, lv.succeeded, lv.failed) == (3, 3, 0) for lv in test.levels)
    assert len(backend.prompts) == 1 + 3 * 3  # one warm-up, never stored
    # The warm-up asks something no level does, so no server cache favours a measured request.
    assert backend.prompts[0] == WARM_UP_PROMPT and WARM_UP_PROMPT not in backend.prompts[1:]
    rows = store.db.scalar("SELECT count(*) FROM load_test_requests WHERE run_id = ?", [run_id])
    assert rows == 9


def test_a_test_stopped_at_its_second_level_resumes_there(store):
    cfg = config(levels=(1, 2, 4), requests=3)
    run_id = create_loadtest(store, cfg)

    def stop_in_level_two(done, total, eta):
        if done == 4:  # the first request of level 2 has been answered
            store.runs.request_stop(run_id)  # as Stop does, before it signals the worker
            raise RunStopped

    first = StandInBackend()
    with pytest.raises(RunStopped):
        run_loadtest(store, run_id, lambda name: first, stop_in_level_two)
    assert store.runs.get(run_id).status == RunStatus.STOPPED
    assert [lv.concurrency for lv in store.loadtests.levels(run_id)] == [1]
    assert [u.key.question_id for u in store.items.pending(run_id)] == ["2", "4"]

    store.runs.requeue(run_id)  # what Resume does
    second = StandInBackend()
    progress = []
    status = run_loadtest(store, run_id, lambda name: second, lambda *p: progress.append(p))
    assert status == RunStatus.COMPLETED
    assert progress[0] == (3, 9, None) and progress[-1][:2] == (9, 9)
    assert len(second.prompts) == 1 + 3 + 3  # a warm-up, then levels 2 and 4 only
    counts = store.db.rows(
        "SELECT concurrency, count(*) FROM load_test_requests WHERE run_id = ? GROUP BY ALL "
        "ORDER BY concurrency",
        [run_id],
    )
    assert counts == [(1, 3), (2, 3), (4, 3)]  # nothing measured twice


def test_a_level_where_every_request_fails_ends_the_test_with_the_reason(store):
    down = {"now": False}
    backend = StandInBackend(
        fail=lambda p: "connection refused" if down["now"] else None,
        on_call=lambda calls: down.update(now=calls > 3),  # warm-up and level 1 answered
    )
    run_id = create_loadtest(store, config(levels=(1, 2), requests=2))
    with pytest.raises(LevelFailed, match=r"Every one of the 2 requests at concurrency 2 failed"):
        run_loadtest(store, run_id, lambda name: backend)
    record = store.runs.get(run_id)
    assert record.status == RunStatus.FAILED and "connection refused (×2)" in record.error
    assert [lv.concurrency for lv in store.loadtests.levels(run_id)] == [1]

    store.runs.requeue(run_id)
    run_loadtest(store, run_id, lambda name: StandInBackend())
    assert [lv.concurrency for lv in store.loadtests.levels(run_id)] == [1, 2]


def test_deleting_the_run_deletes_its_measurements(store):
    run_id = stored_loadtest(store)
    store.runs.delete(run_id)
    for table in ("load_test_levels", "load_test_requests"):
        assert store.db.scalar(f"SELECT count(*) FROM {table}") == 0


def test_prompts_take_one_question_of_each_category_in_turn():
    prompts = builtin_prompts()
    category = {q.text: q.category for q in builtin_questions()}
    assert len(prompts) == len(category)
    assert len({category[p] for p in prompts[:9]}) == 9
    assert Counter(category[p] for p in prompts[:18]) == Counter(
        {c: 2 for c in set(category.values())}
    )


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ("1,x", "whole numbers separated by commas"),
        (" , ", "at least one concurrency level"),
        ("1,0", "Each concurrency level must be 1-256"),
        ("2,2", "listed twice"),
    ],
)
def test_bad_levels_are_refused_clearly(levels, message):
    with pytest.raises(InvalidRequest, match=message):
        config(levels=parse_levels(levels))


def test_requests_per_level_must_be_positive():
    with pytest.raises(InvalidRequest, match="Requests per level must be 1-100,000"):
        config(requests=0)
