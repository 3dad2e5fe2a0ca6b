"""SIGTERM to the dashboard while a page works (issue 15): the process exits by itself, with
status 0 (or the signal's), and the refinement the page was running ends stopped with the
steps it finished, not left "running". The fake model sleeps 10 s per step, so the signal
comes while the page is inside a model call, where it makes no st.* call for Streamlit to
interrupt it at."""

import signal
import subprocess
import time

import pytest

from core.app.shutdown import SHUT_DOWN
from core.store import Store
from core.types import RunStatus
from tests.support import open_dashboard_page

pytestmark = pytest.mark.browser


def test_sigterm_during_a_refinement_exits_and_stops_the_run(tmp_path, serve, browser):
    from playwright.sync_api import expect

    db = tmp_path / "sigterm.duckdb"
    url = serve(db, PERFICS_BACKEND="fake", PERFICS_FAKE_DELAY_S="10")
    (server,) = serve.processes
    (log,) = serve.logs
    page = open_dashboard_page(browser, url, "Refine", 2000)
    page.get_by_role("spinbutton", name="Rounds").fill("2")
    page.get_by_role("button", name="Refine", exact=True).click()
    expect(page.get_by_text("Now: round 1 of 2 · critique")).to_be_visible(timeout=120_000)
    store = Store(db)
    (run_id,) = store.runs.refine_history().id
    deadline = time.monotonic() + 120
    while len(store.generations.steps(run_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    # Baseline and critique are stored; the verdict's 10 s model call has just begun.
    assert list(store.generations.steps(run_id).kind) == ["baseline", "critique"]

    server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(timeout=120)  # generous: a wait, never a measurement
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 120 s after SIGTERM: {log.read_text()[-3000:]}")
    assert status in (0, -signal.SIGTERM), log.read_text()[-3000:]

    run = store.runs.get(run_id)
    assert (run.status, run.error) == (RunStatus.STOPPED, SHUT_DOWN)
    steps = store.generations.steps(run_id)
    assert list(steps.kind) == ["baseline", "critique"]  # the finished steps kept, no more
    assert all(text.startswith("Answer ") for text in steps.text)
