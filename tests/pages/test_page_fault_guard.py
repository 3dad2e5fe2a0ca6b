"""Every page of the dashboard, under every hostile condition a store or a models folder can
be in, renders without a traceback and says what is wrong (issue 15).

The pages come from app.py's own st.navigation list, and each must have a row in PAGES, so a
new page cannot go unchecked. Each page runs inside app.py, as in the browser: AppTest's
switch_page runs a page file on its own (Streamlit treats pages/ as a pages directory), which
skips the sidebar and app.py's last line of defence, so `_app_on_page` stands in for the
browser's address bar instead.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from core.app import context
from tests.support import ROOT, hold_lock


@dataclass(frozen=True)
class Page:
    title: str  # the page's own heading: the page itself ran, not only app.py around it
    empty_store: str  # what it says on a brand-new store


PAGES = {
    "pages/models.py": Page("Models", "No benchmark yet"),
    "pages/refine.py": Page("Self-refinement", "No refinements yet"),
    "pages/benchmarks.py": Page("Benchmarks", "No runs yet"),
    "pages/results.py": Page("Results", "No benchmark runs yet"),
    "pages/arena.py": Page("Arena", "No benchmark runs yet"),
    "pages/tradeoffs.py": Page("Trade-offs", "Nothing to compare yet"),
    "pages/costs.py": Page("Costs", "No measured answers yet"),
    "pages/quantization.py": Page("Quantization", "No ladder yet"),
    "pages/classify.py": Page("Classify", "No dataset yet"),
    "pages/review.py": Page("Review", "No coded texts yet"),
    "pages/agreement.py": Page("Agreement & metrics", "No coded texts yet"),
    "pages/learn.py": Page("Learn", "No learning curve yet"),
    "pages/finetune.py": Page("Fine-tune", "No fine-tuning run yet"),
}


def navigation_pages() -> list[str]:
    """The page files app.py hands to st.navigation, in its order."""
    calls = [
        node
        for node in ast.walk(ast.parse((ROOT / "app.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Page"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    return [node.args[0].value for node in sorted(calls, key=lambda node: node.lineno)]


def _app_on_page(root: str, page: str) -> None:
    """app.py with `page` chosen in its navigation (run by AppTest as a script of its own,
    hence the imports inside). A page app.py does not list is an error."""
    import runpy
    from pathlib import Path

    import streamlit as st

    listed: list[str] = []

    class Chosen:
        def run(self) -> None:
            if page not in listed:
                raise AssertionError(f"{page} is not in app.py's navigation: {listed}")
            runpy.run_path(str(Path(root) / page), run_name="__main__")

    real_page, real_navigation = st.Page, st.navigation
    st.Page = lambda path, **_: listed.append(path) or path
    st.navigation = lambda pages, **_: Chosen()
    try:
        runpy.run_path(str(Path(root) / "app.py"), run_name="__main__")
    finally:
        st.Page, st.navigation = real_page, real_navigation


def _plain(text: str) -> str:
    """Shown text without the backslashes that escape Markdown specials."""
    return re.sub(r"\\(.)", r"\1", text)


@dataclass(frozen=True)
class Shown:
    notices: list[str]  # errors, warnings and infos, main area and sidebar
    errors: list[str]
    text: str  # everything written, notices included


def _shown(at: AppTest) -> Shown:
    notices = [_plain(e.value) for e in [*at.error, *at.warning, *at.info]]
    written = [*at.title, *at.header, *at.subheader, *at.caption, *at.markdown, *at.success]
    return Shown(
        notices=notices,
        errors=[_plain(e.value) for e in at.error],
        text="\n".join(notices + [_plain(e.value) for e in written]),
    )


# --- the hostile conditions: each prepares the environment, then checks what was shown ----


@pytest.fixture(scope="module")
def locked_store(tmp_path_factory):
    """A store another process keeps locked for the whole module (one holder, not 13)."""
    db = tmp_path_factory.mktemp("locked") / "perfics.duckdb"
    context.store(context.settings().model_copy(update={"db": db})).init()
    holder = hold_lock(db, 900)
    yield db
    holder.kill()
    holder.wait()


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    """One file cache for the module: the real models are hashed once, not once a test."""
    return tmp_path_factory.mktemp("model-cache")


@dataclass(frozen=True)
class Case:
    env: dict[str, str]
    check: Callable[[Shown, Page], None]


def _empty_store(tmp_path: Path, locked: Path) -> Case:
    def check(shown: Shown, page: Page) -> None:
        assert not shown.errors, shown.errors
        assert page.empty_store in shown.text

    return Case({}, check)


def _names(shown: Shown, *words: str) -> None:
    assert any(all(w in n for w in words) for n in shown.notices), (words, shown.notices)


def _locked_store(tmp_path: Path, locked: Path) -> Case:
    return Case(
        {"PERFICS_DB": str(locked)},
        lambda shown, page: _names(shown, str(locked), "locked by another process"),
    )


GARBAGE = bytes(range(256)) * 16


def _corrupt_store(tmp_path: Path, locked: Path) -> Case:
    db = tmp_path / "garbage.duckdb"
    db.write_bytes(GARBAGE)

    def check(shown: Shown, page: Page) -> None:
        _names(shown, str(db), "database")
        assert db.read_bytes() == GARBAGE  # reported, never overwritten

    return Case({"PERFICS_DB": str(db)}, check)


def _models_folder(make: bool, backend: str, words: str):
    def case(tmp_path: Path, locked: Path) -> Case:
        folder = tmp_path / "my_models"
        if make:
            folder.mkdir()

        def check(shown: Shown, page: Page) -> None:
            _names(shown, str(folder), words)
            assert not shown.errors, shown.errors  # nothing failed: there is just nothing there
            assert folder.is_dir() == make  # looked at, not created

        return Case({"PERFICS_MODELS_DIR": str(folder), "PERFICS_BACKEND": backend}, check)

    return case


CONDITIONS: dict[str, Callable[[Path, Path], Case]] = {
    "empty-store": _empty_store,
    "locked-store": _locked_store,
    "corrupt-store": _corrupt_store,
    "empty-models-folder": _models_folder(True, "fake", "holds no .gguf files"),
    "missing-models-folder": _models_folder(False, "fake", "does not exist"),
    # The fake model hides an empty folder from the model pickers; the real backend does
    # not, and loads nothing here, since there is nothing to load.
    "empty-models-folder-llama": _models_folder(True, "llama", "holds no .gguf files"),
    "missing-models-folder-llama": _models_folder(False, "llama", "does not exist"),
}


def test_every_page_in_the_navigation_has_a_row():
    pages = navigation_pages()
    assert len(pages) >= 10 and len(set(pages)) == len(pages)
    assert set(pages) == set(PAGES), "add a row to PAGES for each new page"


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("page", PAGES)
def test_page_under_fault(page, condition, tmp_path, monkeypatch, locked_store, model_cache):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setenv("PERFICS_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("PERFICS_LOCK_TIMEOUT_S", "0.2")
    case = CONDITIONS[condition](tmp_path, locked_store)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)

    at = AppTest.from_function(_app_on_page, args=(str(ROOT), page), default_timeout=60)
    at.run()

    assert not at.exception, [e.value for e in at.exception]
    assert any("Results DB" in c.value for c in at.sidebar.caption)  # app.py drew the page
    shown = _shown(at)
    assert PAGES[page].title in [t.value for t in at.title]
    assert "Traceback" not in shown.text and "Database error" not in shown.text
    case.check(shown, PAGES[page])


# --- what an exception no page caught shows in the browser -------------------------------

READ_OPTION = "from streamlit import config; print(config.get_option('client.showErrorDetails'))"
RAISES = "raise RuntimeError('secret: /home/me/prompts.txt')"


def _configured_error_details() -> str:
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    return settings["client"]["showErrorDetails"]


def test_streamlit_config_never_shows_a_traceback():
    """`type`: the exception's class and a generic sentence; its message and traceback go to
    the terminal only (`none` would hide the class too, leaving nothing to report). Checked
    as Streamlit itself reads the file, from the folder `make run` starts it in."""
    value = _configured_error_details()
    assert value == streamlit_config.ShowErrorDetailsConfigOptions.TYPE
    read = subprocess.run(
        [sys.executable, "-c", READ_OPTION],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")},
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == value


@pytest.mark.parametrize(("details", "hidden"), [("full", False), ("configured", True)])
def test_an_uncaught_exception_is_shown_without_its_trace(details, hidden):
    """AppTest honours client.showErrorDetails when it is set for the run; with "full" (the
    control) the trace and message are there, with the configured value they are not."""
    value = _configured_error_details() if details == "configured" else details
    with patch_config_options({"client.showErrorDetails": value}):
        at = AppTest.from_string(RAISES, default_timeout=30).run()
    (shown,) = at.exception
    assert (shown.stack_trace == []) == hidden
    assert ("secret" in shown.message) != hidden
