"""docs/bad-inputs.md is the table of every bad input and the test that proves what happens:
every row must name at least one test, and every named test must exist, so the table cannot
drift from the suite (make test then runs each of them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "bad-inputs.md"
TESTS = ROOT / "tests"
CODE = re.compile(r"`([^`]+)`")


def table_rows() -> list[list[str]]:
    """The body rows of every Markdown table in the document, as lists of cells."""
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[-1].lower() == "test":  # a header row
            continue
        rows.append(cells)
    return rows


def named_tests(cell: str) -> list[tuple[str, str | None]]:
    """(test file, function or None for the whole module) for each reference in a test cell:
    `unit/test_x.py::test_a`, `::test_b` (same file), `unit/test_x.py` (`test_c`, `test_d`)."""
    refs: list[tuple[str, str | None]] = []
    current: str | None = None
    for token in CODE.findall(cell):
        file_part, _, name = token.partition("::")
        if file_part.endswith(".py"):
            current = file_part
            refs.append((current, name or None))
        elif token.startswith("::") and current:
            refs.append((current, token[2:]))
        elif re.fullmatch(r"test_\w+", token) and current:
            refs.append((current, token))
    return refs


def defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def test_the_reference_parser_reads_each_form_the_table_uses():
    cell = "`unit/test_a.py::test_one`, `::test_two`, `pages/test_b.py` (`test_three`), `x`"
    assert named_tests(cell) == [
        ("unit/test_a.py", "test_one"),
        ("unit/test_a.py", "test_two"),
        ("pages/test_b.py", None),
        ("pages/test_b.py", "test_three"),
    ]


def test_every_row_names_a_test_that_exists():
    rows = table_rows()
    assert len(rows) >= 60, "the table lost rows"
    problems = []
    for cells in rows:
        refs = named_tests(cells[-1])
        if not refs:
            problems.append(f"no test named for: {cells[0][:70]}")
        for file, name in refs:
            path = TESTS / file
            if not path.is_file():
                problems.append(f"{file} does not exist ({cells[0][:50]})")
            elif name and name.split("[")[0] not in defined_names(path):
                problems.append(f"{file}::{name} does not exist ({cells[0][:50]})")
    assert not problems, "\n".join(problems)
