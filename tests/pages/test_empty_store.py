"""A brand-new store: every page and the reporting commands say what to do, never a
traceback (issue 9, item 8)."""

import json

import pytest

from tests.support import run_cli

PAGES = [
    "pages/results.py",
    "pages/arena.py",
    "pages/tradeoffs.py",
    "pages/costs.py",
    "pages/benchmarks.py",
    "pages/refine.py",
    "pages/models.py",
    "pages/quantization.py",
    "pages/classify.py",
    "pages/review.py",
    "pages/agreement.py",
    "pages/learn.py",
    "pages/finetune.py",
]


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """The pages run on the fake backend."""


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_store(open_page, page):
    at = open_page(page)
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = " ".join(m.value for m in [*at.info, *at.caption, *at.markdown, *at.title])
    assert shown.strip(), f"{page} shows nothing on an empty store"


def test_reporting_commands_on_an_empty_store():
    rank = run_cli("rank")
    assert rank.returncode == 0 and "Nothing to rank yet" in rank.stdout
    assert "Traceback" not in rank.stderr
    ranked = json.loads(run_cli("rank", "--json").stdout)
    assert ranked["models"] == [] and ranked["judges"] == {}
    results = run_cli("results")
    assert results.returncode == 0 and "No benchmark runs yet" in results.stdout
    unknown = run_cli("results", "--run", "nope")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "nope" in unknown.stderr
