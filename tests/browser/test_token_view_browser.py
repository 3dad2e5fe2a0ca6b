"""The token view in a real browser with SmolLM2: generate on the Models page, show the answer
token by token, and find shaded token spans whose hover text gives a probability; a pasted
reference full of HTML and Markdown is scored too, shown as text, and fetches nothing."""

import re
from urllib.parse import urlsplit

import pytest

from tests.support import ROOT, open_dashboard_page

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

SHOTS = ROOT / "build" / "screenshots"
HOSTILE_REFERENCE = (
    "Light scatters. ![x](http://example.com/a.png) <img src=http://example.com/b.png> "
    "<script>document.title='pwned'</script>\nSecond line."
)


def test_models_page_shows_an_answer_token_by_token(tmp_path, serve, browser):
    from playwright.sync_api import expect

    url = serve(tmp_path / "tokens.duckdb")
    page = open_dashboard_page(browser, url, "Models", 2400)
    outside = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None,
    )
    page.get_by_role("spinbutton", name="Max tokens").fill("48")
    page.get_by_role("slider", name="Temperature").focus()
    page.get_by_role("slider", name="Temperature").press("Home")  # greedy
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Completion tokens")).to_be_visible(timeout=120_000)

    page.get_by_text("Show tokens", exact=True).click()
    tokens = page.locator("span.pf-token")
    expect(tokens.first).to_be_visible(timeout=120_000)
    assert tokens.count() >= 5
    titles = [tokens.nth(i).get_attribute("title") for i in range(min(tokens.count(), 10))]
    for title in titles:
        assert re.search(r"p (\d\.\d{3}|\d\.\de-\d\d) · rank \d+", title), title
        assert "entropy" in title and "likeliest here:" in title
    # Shaded in the browser: the inline background survives st.html's sanitiser.
    assert tokens.first.evaluate("e => getComputedStyle(e).backgroundColor").startswith("rgb")
    expect(page.get_by_text("cross-entropy", exact=False).first).to_be_visible()
    tokens.first.hover()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "token-view-models.png"), full_page=True)

    page.get_by_text("Score a reference answer under the same prompt").click()
    page.get_by_role("textbox", name="Reference answer").fill(HOSTILE_REFERENCE)
    page.get_by_role("button", name="Score reference").click()
    expect(page.get_by_text("Reference answer, token by token")).to_be_visible(timeout=120_000)
    views = page.locator("div.pf-tokens")
    expect(views).to_have_count(2, timeout=60_000)
    reference = views.nth(1)
    # Shown exactly as pasted: no image or script element, the newline drawn and kept.
    assert reference.locator("img, script, a").count() == 0
    shown = reference.inner_text()
    assert "![x](http://example.com/a.png)" in shown and "<script>" in shown
    assert "↵\nSecond" in shown
    assert page.title() != "pwned"
    page.screenshot(path=str(SHOTS / "token-view-reference.png"), full_page=True)
    assert not outside, outside
