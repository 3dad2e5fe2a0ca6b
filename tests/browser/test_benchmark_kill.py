"""A benchmark started from the dashboard, its worker killed with SIGKILL: within 10 s the page
shows the run interrupted with Resume, without a reload. Resume and Stop then work too."""

import os
import signal
import time

import pytest

from core.store import Store
from tests.support import ROOT, open_dashboard_page

pytestmark = pytest.mark.browser


def _worker_pid(store: Store, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store.runs.benchmark_overview()
        if len(runs) and runs.status[0] == "running" and runs.items_done[0] >= 1:
            return int(runs.pid[0])
        time.sleep(0.3)
    pytest.fail(f"the run never got going: {runs.to_dict('records')}")


def test_killed_worker_shows_interrupted_with_resume_within_10_s(tmp_path, serve, browser):
    from playwright.sync_api import expect

    db = tmp_path / "kill.duckdb"
    # The fake backend, slowed down so the run is still going when it is killed.
    url = serve(db, PERFICS_BACKEND="fake", PERFICS_FAKE_DELAY_S="0.2")
    page = open_dashboard_page(browser, url, "Benchmarks", 2000)
    page.get_by_role("spinbutton", name="Questions (0 = all)").fill("10")
    page.get_by_role("spinbutton", name="Refinement rounds").fill("1")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Started run")).to_be_visible(timeout=30_000)
    status = page.locator("strong").filter(has_text="running")
    expect(status).to_be_visible(timeout=30_000)

    store = Store(db)
    pid = _worker_pid(store)
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    # Polled, not reloaded: the page notices the dead worker by itself.
    expect(page.locator("strong").filter(has_text="interrupted")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_enabled(timeout=10_000)
    page.screenshot(path=str(ROOT / "data" / "browser-killed-run.png"), full_page=True)
    (run,) = [store.runs.get(r) for r in store.runs.benchmark_overview().id]
    assert run.status == "interrupted" and f"({pid})" in run.error
    done_before = run.done_units
    assert 1 <= done_before < run.total_units

    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("strong").filter(has_text="running")).to_be_visible(timeout=30_000)
    resumed_pid = _worker_pid(store)
    assert resumed_pid != pid
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_enabled(timeout=10_000)
    stop.click()
    expect(page.locator("strong").filter(has_text="stopped")).to_be_visible(timeout=30_000)
    run = store.runs.get(run.id)
    assert run.error == "stopped on request" and run.done_units >= done_before
