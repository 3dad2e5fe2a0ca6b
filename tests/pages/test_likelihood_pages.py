"""AppTest: a likelihood run started on the Benchmarks page, read on the Results page, and
picked as the quality source on the Trade-offs page."""

import time

import pytest

from core.app.runs import import_suite, overview
from core.engine.fake import FAKE_INFO
from core.evaluation.likelihood import create_likelihood_run, run_likelihood
from core.types import LikelihoodSpec
from tests.support import DATA, fake_pool, finished_run


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every page here runs on the fake backend."""


def _likelihood_run(store) -> str:
    import_suite(DATA / "mc_simple.jsonl", "mc")
    run_id = create_likelihood_run(store, LikelihoodSpec("mc", (FAKE_INFO,)), "fake")
    run_likelihood(store, run_id, fake_pool())
    return run_id


def test_benchmarks_page_starts_a_likelihood_run_in_the_background(open_page, store):
    import_suite(DATA / "mc_simple.jsonl", "mc")
    at = open_page("pages/benchmarks.py")
    suites = at.dataframe[0].value
    assert dict(zip(suites.name, suites.multiple_choice, strict=True)) == {"mc": 18, "builtin": 0}
    # The answers' run refuses a multiple-choice suite (and says so); that one uses builtin.
    assert any("--measure likelihood" in e.value for e in at.error)
    at.selectbox(key="bench_suite").set_value("builtin")
    at.selectbox(key="bench_lk_suite").set_value("mc")
    at.multiselect(key="bench_lk_models").set_value(["fake-echo"])
    at.run()
    assert any("18 units (18 multiple-choice, 0 reference answers)" in m.value for m in at.markdown)
    at.button(key="bench_lk_start").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Started likelihood run" in s.value for s in at.success)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and overview().status[0] != "completed":
        time.sleep(0.5)
    runs = overview()
    assert (runs.kind[0], runs.status[0], runs.items_done[0]) == ("likelihood", "completed", 18)


def test_results_page_shows_accuracy_with_intervals_and_each_question(open_page, store):
    run_id = _likelihood_run(store)
    at = open_page("pages/results.py")
    assert at.selectbox(key="results_run").value == run_id
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("acc_norm" in c.value and "Wilson" in c.value for c in at.caption)
    table = at.dataframe[0].value
    every = table[table.category == "all"].iloc[0]
    assert every["MC accuracy (acc_norm)"].endswith("(n=18)") and every.units == 18
    assert at.selectbox(key="results_lk_item").value is not None
    assert any(m.value.startswith("**Question:**") for m in at.markdown)
    choices = at.dataframe[1].value
    assert len(choices) == 4 and {"logprob", "logprob_per_char"} <= set(choices.columns)


def test_tradeoffs_page_ranks_on_likelihood_when_asked(open_page, store):
    _likelihood_run(store)
    finished_run(store, models=(FAKE_INFO,), judge=None, rounds=0)  # measures the cost
    at = open_page("pages/tradeoffs.py")
    at.radio(key="trade_quality").set_value("likelihood").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ranked = at.dataframe[0].value
    assert ranked.performance_source[0].startswith("likelihood: MC accuracy (acc_norm)")
    assert any("Quality from likelihood runs" in w.value for w in at.warning)


def test_arena_lists_benchmark_runs_only(open_page, store):
    _likelihood_run(store)
    at = open_page("pages/arena.py")
    assert any("No benchmark runs yet" in i.value for i in at.info)
