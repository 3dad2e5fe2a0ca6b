"""A benchmark controlled from the dashboard in a real browser (issue 10): Enter in a field
starts nothing; the start button names the run's size; progress with time left comes first;
Stop ends the worker with the finished units kept and the run `stopped`; Resume finishes it;
Delete, once confirmed, removes its rows and leaves another run untouched."""

import re
import time

import pytest

from core.evaluation.lifecycle import process_alive
from core.store import Store
from tests.support import ROOT, finished_run, open_dashboard_page

pytestmark = pytest.mark.browser

TABLES = ("run_items", "generations", "judgments")


def _rows(store: Store, run_id: str) -> dict[str, int]:
    return {
        t: store.db.scalar(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]) for t in TABLES
    }


def _newest(store: Store, other: str, at_least_done: int, timeout: float = 60):
    """The run started from the page, once it is running with `at_least_done` units done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.runs.benchmark_overview()
        mine = runs[runs.id != other]
        if len(mine) and mine.status.iloc[0] == "running":
            if mine.items_done.iloc[0] >= at_least_done:
                return store.runs.get(mine.id.iloc[0])
        time.sleep(0.3)
    pytest.fail(f"the run never got going: {runs.to_dict('records')}")


def test_start_stop_resume_delete_from_the_page(tmp_path, serve, browser):
    from playwright.sync_api import expect

    db = tmp_path / "control.duckdb"
    store = Store(db)
    other = finished_run(store)  # another run, which nothing below may touch
    other_rows = _rows(store, other)
    assert all(other_rows.values())
    # The fake backend, slowed down so the run is still going when it is stopped.
    url = serve(db, PERFICS_BACKEND="fake", PERFICS_FAKE_DELAY_S="0.2")
    page = open_dashboard_page(browser, url, "Benchmarks", 2400)

    page.get_by_role("spinbutton", name="Refinement rounds").fill("1")
    questions = page.get_by_role("spinbutton", name="Questions (0 = all)")
    questions.fill("10")
    questions.press("Enter")  # applies the value, and nothing else
    # Two default models and a judge: 10 x (2 answers + 1 pair).
    start = page.get_by_role("button", name=re.compile(r"^Start run \(30 units, "))
    expect(start).to_be_visible(timeout=30_000)
    expect(
        page.get_by_text(re.compile(r"This run: 30 units \(20 answers \+ 10 pairs"))
    ).to_be_visible()
    assert list(store.runs.benchmark_overview().id) == [other]  # Enter started nothing
    start.click()
    expect(page.get_by_text("Started run")).to_be_visible(timeout=30_000)

    run = _newest(store, other, at_least_done=2)
    # Progress and time left first: above the run picker and the table.
    line = page.get_by_text(re.compile(r"of 30 items · about .+ left"))
    expect(line).to_be_visible(timeout=30_000)
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Run").last
    assert line.bounding_box()["y"] < picker.bounding_box()["y"]
    assert line.bounding_box()["y"] < page.get_by_test_id("stDataFrame").last.bounding_box()["y"]

    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_enabled(timeout=10_000)
    stop.click()
    expect(page.locator("strong").filter(has_text="stopped")).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 15
    while process_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_alive(run.pid)  # the worker ended
    stopped = store.runs.get(run.id)
    assert (stopped.status, stopped.error) == ("stopped", "stopped on request")
    assert 2 <= stopped.done_units < stopped.total_units == 30
    kept = store.db.scalar(
        "SELECT count(*) FROM run_items WHERE run_id = ? AND status = 'done'", [run.id]
    )
    assert kept == stopped.done_units  # every finished unit kept
    page.screenshot(path=str(ROOT / "data" / "browser-run-stopped.png"), full_page=True)

    resume = page.get_by_role("button", name="Resume", exact=True)
    expect(resume).to_be_enabled(timeout=10_000)
    resume.click()
    expect(page.locator("strong").filter(has_text="completed")).to_be_visible(timeout=180_000)
    finished = store.runs.get(run.id)
    assert finished.status == "completed" and finished.done_units == 30
    assert finished.pid != run.pid  # a new worker did the rest

    delete = page.get_by_role("button", name="Delete run", exact=True)
    expect(delete).to_be_disabled()  # not before the confirmation
    page.get_by_text("Confirm delete").click()
    expect(delete).to_be_enabled(timeout=10_000)
    delete.click()
    expect(page.get_by_text(f"Deleted run {run.id}.")).to_be_visible(timeout=30_000)
    assert list(store.runs.benchmark_overview().id) == [other]
    assert _rows(store, run.id) == dict.fromkeys(TABLES, 0)
    assert _rows(store, other) == other_rows
    page.screenshot(path=str(ROOT / "data" / "browser-run-deleted.png"), full_page=True)
