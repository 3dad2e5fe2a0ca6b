"""The shape of the code, checked: imports point one way (pages -> app -> ranking ->
evaluation -> engine/store -> types), all SQL lives in core/store, modules stay small."""

import ast
import re
from pathlib import Path

import pytest

from tests.support import ROOT

CORE = ROOT / "core"
PAGES = ROOT / "pages"
# Higher may import lower, never the reverse. engine and store are peers that must not mix.
LAYER_RANK = {
    "errors": 0,
    "types": 1,
    "config": 1,
    "engine": 2,
    "store": 2,
    "evaluation": 3,
    "ranking": 4,
    "app": 5,
}
PAGE_MAY_IMPORT = ("core.app", "core.types", "core.errors", "core.config", "pages.components")


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "core" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYER_RANK else None


def _own_layer(path: Path) -> str:
    rel = path.relative_to(CORE).with_suffix("")
    return rel.parts[0]


def test_core_imports_point_down_only():
    wrong = []
    for path in _modules(CORE):
        own = _own_layer(path)
        if own not in LAYER_RANK:
            continue  # core/__init__.py
        for module in _imports(path):
            target = _layer(module)
            if target is None or target == own:
                continue
            if LAYER_RANK[target] >= LAYER_RANK[own]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_core_module_belongs_to_a_layer():
    loose = [
        p.relative_to(ROOT)
        for p in _modules(CORE)
        if _own_layer(p) not in LAYER_RANK and p.name != "__init__.py"
    ]
    assert not loose


def test_core_never_imports_streamlit_or_pages():
    offenders = [
        p.relative_to(ROOT)
        for p in _modules(CORE)
        if any(m.split(".")[0] in ("streamlit", "pages") for m in _imports(p))
    ]
    assert not offenders


def test_pages_call_the_app_layer_only():
    wrong = []
    for path in [ROOT / "app.py", *_modules(PAGES)]:
        for module in _imports(path):
            if module.startswith(("core", "pages")) and module not in ("core", "pages"):
                if not module.startswith(PAGE_MAY_IMPORT):
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_all_sql_lives_in_the_store():
    sql_call = re.compile(r"\.(execute|executemany|query_df|sql)\(")
    outside = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _modules(CORE)
        if "store" not in p.relative_to(CORE).parts
        for n, line in enumerate(p.read_text().splitlines(), start=1)
        if sql_call.search(line)
    ]
    assert not outside, outside


@pytest.mark.parametrize(("folder", "limit"), [(CORE, 400), (PAGES, 400)])
def test_no_module_passes_about_400_lines(folder, limit):
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in _modules(folder)}
    assert max(sizes.values()) <= limit, {p: n for p, n in sizes.items() if n > limit}


def test_screens_are_thin():
    screens = {p.name: len(p.read_text().splitlines()) for p in PAGES.glob("*.py")}
    assert max(screens.values()) <= 160, screens
