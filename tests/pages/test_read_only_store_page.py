"""The dashboard over a store on read-only media: a warning, and the pages that read (runs,
results, trade-offs) show what the store holds as they do on a writable one; a store from a
newer build is refused on the page, untouched (issue 15)."""

from contextlib import contextmanager

import duckdb
import pytest

from core.app import context
from core.store.migrations import MIGRATIONS
from tests.media_support import read_only_folder
from tests.support import finished_run

PAGES = [
    "pages/benchmarks.py",
    "pages/results.py",
    "pages/tradeoffs.py",
    "pages/classify.py",
    "pages/learn.py",
]


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """The pages run on the fake backend."""


@contextmanager
def seen_read_only(store, monkeypatch):
    """PERFICS_DB pointing at the store, seen read-only by this process."""
    with read_only_folder(store.path.parent) as ro:
        if not ro.in_process:
            pytest.skip(f"{ro.how}: only a subprocess sees the folder read-only")
        monkeypatch.setenv("PERFICS_DB", str(ro.path / store.path.name))
        assert context.store().read_only
        yield


def _messages(at) -> list[str]:
    return [e.value for e in at.error]


def test_the_dashboard_warns_of_a_read_only_store(store, open_page, monkeypatch):
    finished_run(store)
    assert not [w for w in open_page().warning if "is read-only" in w.value]
    with seen_read_only(store, monkeypatch):
        at = open_page()
    assert not at.exception and not at.error, _messages(at)
    warnings = [w.value for w in at.warning if "is read-only" in w.value]
    assert len(warnings) == 1, [w.value for w in at.warning]
    assert "(read-only file system)" in warnings[0] or "(no permission" in warnings[0]
    assert "showing what it holds, nothing can be changed" in warnings[0]


# AppTest drops what the entry file draws (the sidebar, the warning) once it switches page,
# so the other pages are compared with what they show on the same store when writable.
@pytest.mark.parametrize("page", PAGES)
def test_the_reading_pages_show_a_read_only_store(store, open_page, monkeypatch, page):
    finished_run(store)
    writable = open_page(page)
    with seen_read_only(store, monkeypatch):
        at = open_page(page)
    assert not at.exception, at.exception
    assert _messages(at) == _messages(writable)
    assert [d.value.shape for d in at.dataframe] == [d.value.shape for d in writable.dataframe]


def test_a_store_from_a_newer_build_is_refused_on_the_pages(store, open_page):
    store.init()
    with duckdb.connect(str(store.path)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, 'future', now())", [len(MIGRATIONS) + 1])
    before = store.path.read_bytes()
    at = open_page("pages/results.py")
    assert not at.exception, at.exception
    assert any(
        f"(schema version {len(MIGRATIONS) + 1}); this build knows up to {len(MIGRATIONS)}"
        in e.value
        for e in at.error
    ), [e.value for e in at.error]
    assert store.path.read_bytes() == before
