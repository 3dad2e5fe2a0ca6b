"""The Refine page in a real browser: the step being written is in view with a "Now: …" line
while it streams, and Stop ends the refinement as a stored, stopped run with what it finished
(never one left "running")."""

import pytest

from core.app.refine import STOP_PRESSED
from core.store import Store
from core.types import RunStatus
from tests.support import ROOT, open_dashboard_page

pytestmark = pytest.mark.browser


def test_stop_ends_a_running_refinement_as_stopped(tmp_path, serve, browser):
    from playwright.sync_api import expect

    db = tmp_path / "stop.duckdb"
    # The fake backend, slowed down so the refinement is still going when Stop is pressed.
    url = serve(db, PERFICS_BACKEND="fake", PERFICS_FAKE_DELAY_S="1.5")
    page = open_dashboard_page(browser, url, "Refine", 2000)
    page.get_by_role("spinbutton", name="Rounds").fill("3")
    page.get_by_role("button", name="Refine", exact=True).click()

    # The critique streams in view, not inside a collapsed expander.
    expect(page.get_by_text("Now: round 1 of 3 · critique")).to_be_visible(timeout=30_000)
    # The fake echoes the end of its prompt: the critique request, then "Assistant:".
    expect(page.get_by_text("Do not rewrite the answer yet. Assistant:")).to_be_visible()
    page.screenshot(path=str(ROOT / "data" / "browser-refine-live.png"), full_page=True)
    page.get_by_role("button", name="Stop", exact=True).click()

    expect(page.get_by_text(f"Run stopped in round 1: {STOP_PRESSED}.")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0)
    page.screenshot(path=str(ROOT / "data" / "browser-refine-stopped.png"), full_page=True)
    store = Store(db)
    (run_id,) = store.runs.refine_history().id
    run = store.runs.get(run_id)
    assert run.status == RunStatus.STOPPED and run.error == STOP_PRESSED
    kinds = list(store.generations.steps(run_id).kind)
    assert kinds[0] == "baseline" and len(kinds) < 10  # stopped well before 3 full rounds
