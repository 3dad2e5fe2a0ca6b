"""Real-browser smoke test: Debian chromium, driven by playwright, against `streamlit run`."""

import pytest

from core.store import Store
from tests.support import ROOT, SMOLLM2, finished_run, make_contrasting_run

pytestmark = [pytest.mark.browser, pytest.mark.real_model]


@pytest.fixture
def app_url(tmp_path, serve):
    db = tmp_path / "browser.duckdb"
    store = Store(db)
    finished_run(store, limit=2)  # a finished benchmark run (fake models) for the arena
    make_contrasting_run(store)  # quality and cost disagree, so weights change the ranking
    return serve(db)


def test_models_page_shows_default_model_and_generates(app_url, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=60_000)
    # The model table is a canvas grid, so check the "Try it" picker, which shows the
    # default model by name.
    expect(page.get_by_role("combobox", name="Model")).to_have_value(SMOLLM2, timeout=30_000)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Completion tokens")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ROOT / "data" / "browser-models.png"), full_page=True)

    page.get_by_role("link", name="Refine").click()
    expect(page.get_by_role("heading", name="Self-refinement")).to_be_visible(timeout=30_000)
    page.get_by_role("spinbutton", name="Rounds").fill("1")
    page.get_by_role("spinbutton", name="Max tokens per step").fill("64")
    # The paper's fixed round, so the Refined column always holds a rewrite.
    page.get_by_text("Stop early when the critique finds nothing to fix").click()
    page.get_by_role("button", name="Refine").click()
    expect(page.get_by_text("Stopped: all requested rounds ran")).to_be_visible(timeout=120_000)
    columns = page.get_by_test_id("stColumn")
    baseline = columns.filter(has=page.get_by_text("Baseline", exact=True))
    refined = columns.filter(has=page.get_by_text("Refined", exact=True))
    expect(baseline).to_have_count(1)
    expect(refined).to_have_count(1)
    for column in (baseline, refined):
        # Past its heading, each column holds a non-empty answer.
        assert len(column.inner_text().split()) > 3, column.inner_text()
    page.screenshot(path=str(ROOT / "data" / "browser-refine.png"), full_page=True)

    page.get_by_role("link", name="Trade-offs").click()
    expect(page.get_by_role("heading", name="Trade-offs")).to_be_visible(timeout=30_000)
    page.get_by_test_id("stSelectbox").first.click()  # the data picker
    page.get_by_role("option", name="builtin · slow-good,fast-poor", exact=False).click()
    top_model = page.get_by_test_id("stDataFrame").locator("#glide-cell-1-0")
    expect(top_model).to_have_text("slow-good", timeout=30_000)
    performance = page.get_by_role("slider", name="Performance weight")
    performance.focus()
    performance.press("Home")  # performance weight to 0: cost alone decides
    expect(top_model).to_have_text("fast-poor", timeout=30_000)
    page.screenshot(path=str(ROOT / "data" / "browser-tradeoffs.png"), full_page=True)

    page.get_by_role("link", name="Arena").click()
    expect(page.get_by_role("heading", name="Arena")).to_be_visible(timeout=30_000)
    page.get_by_text("Model vs model").click()
    expect(page.get_by_role("button", name="A is better")).to_be_visible(timeout=30_000)
    page.get_by_role("heading", name="Arena").click()  # focus leaves the radio buttons
    page.keyboard.press("a")  # the keyboard shortcut casts the vote
    expect(page.get_by_text("Recorded.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("1 vote(s) in this run")).to_be_visible()
    page.screenshot(path=str(ROOT / "data" / "browser-arena.png"), full_page=True)
