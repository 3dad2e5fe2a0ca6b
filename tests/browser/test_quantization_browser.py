"""The Quantization page in a real browser with the real SmolLM2: a ladder built from pasted
text runs in the background worker, and its table and chart appear without a reload."""

import re
import shutil

import pytest

from core.store import Store
from tests.support import MODELS_DIR, ROOT, SMOLLM2, open_dashboard_page

pytestmark = pytest.mark.browser

TEXT = (
    "A bill to amend the Internal Revenue Code to extend the credit for research. To "
    "designate the facility of the United States Postal Service as the Post Office Building. "
) * 4


def test_a_ladder_started_from_the_page_shows_its_table(tmp_path, serve, browser):
    from playwright.sync_api import expect

    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(MODELS_DIR / f"{SMOLLM2}.gguf", models / f"{SMOLLM2}.gguf")
    db = tmp_path / "ladder.duckdb"
    url = serve(db, PERFICS_MODELS_DIR=str(models))
    page = open_dashboard_page(browser, url, "Quantization", 2600)

    page.get_by_text("Pasted text").click()
    page.get_by_role("textbox", name="Text").fill(TEXT)
    page.get_by_role("spinbutton", name="Chunk size (tokens)").fill("32")
    page.get_by_role("spinbutton", name="Chunk size (tokens)").press("Tab")
    # Keep one type: remove the other defaults from the multiselect.
    for qtype in ("Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"):
        page.get_by_role("button", name=re.compile(f"Remove {qtype}")).click()
    page.get_by_text("Allow requantizing").click()
    start = page.get_by_role("button", name="Start ladder (1 type + the source)")
    expect(start).to_be_enabled(timeout=30_000)
    start.click()
    expect(page.get_by_text("Ladder started")).to_be_visible(timeout=60_000)

    # The worker writes the copy and measures both models; the page polls until it is done.
    expect(page.get_by_text(re.compile(r"completed · 3 of 3")).first).to_be_visible(timeout=300_000)
    expect(page.get_by_text("Download the table (CSV)")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile("relative to it")).first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(1, timeout=30_000)
    (ROOT / "build" / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ROOT / "build" / "screenshots" / "quantization.png"), full_page=True)

    [run_id] = Store(db).runs.benchmark_overview(kinds=["ladder"]).id
    rungs = Store(db).ladders.rungs(run_id)
    assert [r.qtype for r in rungs] == ["source", "Q8_0"]
    assert (models / f"{SMOLLM2}-to-Q8_0.gguf").is_file()
