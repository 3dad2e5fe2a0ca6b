"""AppTest for starting runs on purpose (issue 10): the Benchmarks fields are no form, so
Enter never starts a run; the start button names the run's size and expected time; an empty
store offers Quick start on every page that would be empty."""

import time
from math import comb

import pytest

from core.app import context, runs
from core.engine.fake import FAKE_INFO
from core.types import RunStatus
from tests.support import finished_run

EMPTY_PAGES = [
    "pages/results.py",
    "pages/arena.py",
    "pages/tradeoffs.py",
    "pages/costs.py",
    "pages/benchmarks.py",
    "pages/models.py",
]


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every page here runs on the fake backend."""


def _wait_until_finished(timeout: float = 120) -> None:
    """Lets the background worker end before the test's store goes away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runs.overview().status.isin(["queued", "running"]).any():
        time.sleep(0.5)


def _quick_starts(at) -> list:
    return [b for b in at.button if b.label == "Quick start"]


def test_fields_never_start_a_run_and_the_button_names_its_size_and_time(open_page, store):
    # fake-echo answered earlier, unjudged, in one round: 30 s an answer.
    earlier = finished_run(store, models=(FAKE_INFO,), judge=None)
    store.db.execute("UPDATE run_items SET seconds = 30.0 WHERE run_id = ?", [earlier])
    at = open_page("pages/benchmarks.py")
    assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter")]
    # Each change reruns the page as Enter in the field would: none of them starts a run.
    at.number_input(key="bench_limit").set_value(2).run()
    at.number_input(key="bench_rounds").set_value(1).run()
    at.multiselect(key="bench_models").set_value(["fake-echo"]).run()
    at.selectbox(key="bench_judge").set_value("(no judge)").run()
    assert list(runs.overview().id) == [earlier]
    shown = [m.value for m in at.markdown]
    assert "**This run:** 2 units (2 answers + 0 pairs, 2 questions) · about 1 min" in " ".join(
        shown
    ), shown
    start = at.button(key="bench_start")
    assert start.label == "Start run (2 units, about 1 min)"  # 2 x 30 s
    start.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    new = [r for r in runs.overview().itertuples() if r.id != earlier]
    assert len(new) == 1 and new[0].total == 2
    _wait_until_finished()


def test_a_new_machine_shows_time_unknown_rather_than_a_guess(open_page):
    at = open_page("pages/benchmarks.py")
    at.number_input(key="bench_limit").set_value(3).run()
    label = at.button(key="bench_start").label
    assert label.startswith("Start run (") and label.endswith(" units, time unknown)"), label
    assert any("no measurements yet" in m.value for m in at.markdown)


@pytest.mark.parametrize("page", EMPTY_PAGES)
def test_an_empty_store_offers_quick_start_with_its_size(open_page, page):
    usable = [m for m in context.list_models() if m.usable]
    n = len(usable)
    units = 18 * n + 18 * comb(n, 2)  # every model answers; the judge compares every pair
    at = open_page(page)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(_quick_starts(at)) == 1
    captions = " ".join(c.value for c in at.caption)
    assert f"Quick start: {units} units ({18 * n} answers + {18 * comb(n, 2)} pairs" in captions
    assert "time unknown" in captions


def test_quick_start_runs_the_balanced_benchmark_in_the_background(open_page, store):
    at = open_page("pages/results.py")
    _quick_starts(at)[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (run_id,) = runs.overview().id
    config = store.runs.get(run_id).config
    usable = [m for m in context.list_models() if m.usable]
    spec = runs.quick_start_spec(usable)
    assert config.model_names == tuple(m.name for m in usable)
    assert config.judge.name == spec.judge.name
    assert (len(config.question_ids), config.rounds, config.stop_early) == (18, 1, False)
    # The page now has a run: its progress line, no second offer.
    assert not _quick_starts(at)
    _wait_until_finished()
    assert runs.run_state(run_id).status == RunStatus.COMPLETED
    at = open_page("pages/results.py")
    n = len(usable)
    total = 18 * n + 18 * n * (n - 1) // 2
    assert any(f"**completed** · {total} of {total} items" in m.value for m in at.markdown)
