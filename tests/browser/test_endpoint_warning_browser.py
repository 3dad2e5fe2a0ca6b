"""In a real browser, the "data leaves this machine" warning is on every page while a remote
endpoint is declared, and on none when the only endpoint is on 127.0.0.1. (AppTest cannot
show this: its switch_page runs a page file without app.py, which draws the warning.) The
remote endpoint is on a TEST-NET address and is never contacted: listing it sends nothing."""

import re

import pytest

from core.engine.endpoint_config import save_endpoints
from core.types import EndpointConfig

pytestmark = pytest.mark.browser

# Link in the navigation -> the page's title.
PAGES = {
    "Refine": "Self-refinement",
    "Results": "Results",
    "Costs": "Costs",
    "Classify": "Classify",
    "Models": "Models",
}
WARNING = re.compile("^Data leaves this machine: prompts sent to endpoint")  # case-sensitive


def _walk(browser, url: str) -> dict[str, int]:
    """Each page opened by its link; how many warnings it showed once its title was drawn
    (app.py draws the warning before the page, so it is there by then if at all)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=60_000)
    seen = {}
    for link, title in PAGES.items():
        page.get_by_role("link", name=link, exact=True).click()
        heading = page.get_by_role("heading", name=title, exact=True)
        expect(heading).to_be_visible(timeout=30_000)
        seen[link] = page.get_by_text(WARNING).count()
    page.close()
    return seen


def test_remote_endpoint_warns_on_every_page(tmp_path, serve, browser):
    endpoints = tmp_path / "endpoints.toml"
    save_endpoints(
        endpoints,
        [
            EndpointConfig("here", "http://127.0.0.1:9/v1", "m"),
            EndpointConfig("lab-gpu", "http://192.0.2.10:8000/v1", "big"),
        ],
    )
    url = serve(
        tmp_path / "db.duckdb", PERFICS_BACKEND="fake", PERFICS_ENDPOINTS_FILE=str(endpoints)
    )
    assert _walk(browser, url) == dict.fromkeys(PAGES, 1)


def test_loopback_endpoint_does_not_warn(tmp_path, serve, browser):
    endpoints = tmp_path / "endpoints.toml"
    save_endpoints(endpoints, [EndpointConfig("here", "http://127.0.0.1:9/v1", "m")])
    url = serve(
        tmp_path / "db.duckdb", PERFICS_BACKEND="fake", PERFICS_ENDPOINTS_FILE=str(endpoints)
    )
    assert _walk(browser, url) == dict.fromkeys(PAGES, 0)
