"""Codebooks: the labels texts are coded with, imported from CSV/Excel/JSON or written on a page.

A label has a `code` (defaults to its name), a `name` (what a model writes, so it goes into a
GBNF grammar: one line, no double quote, at most 80 characters), an optional description,
examples (a list in JSON, separated by '|' in a table) and parent (the code of a broader
label; it must be in the same codebook, without loops). JSON holds either a list of label
objects or {"instructions": "...", "labels": [...]}. Bad labels are listed by line and
reason, as for datasets (classification_import.py).
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd

from core.errors import PerficsError
from core.evaluation.classification_import import missing_columns, refuse_invalid
from core.evaluation.table_files import cell_text, read_table, read_text
from core.types import RowError
from core.types.classification import Codebook, CodebookLabel
from core.types.text import surrogate_problem

LABEL_KEYS = ("code", "name", "description", "examples", "parent")
EXAMPLE_SEPARATOR = "|"
MAX_NAME_CHARS = 80
MIN_LEAVES = 2  # a codebook with one label to code with leaves a model no choice
_JSON_SUFFIXES = (".json",)
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def parse_codebook(
    path: Path, name: str, source: str | None = None, sheet: str | None = None
) -> tuple[Codebook, list[RowError]]:
    """The codebook in `path` (its valid labels) and the invalid rows, by line."""
    display = source or str(path)
    if path.suffix.lower() in _JSON_SUFFIXES:
        instructions, records, errors = _json_records(read_text(path, source), display)
    else:
        table, errors = read_table(path, source, sheet)
        records, header_errors = _table_records(table)
        errors, instructions = errors + header_errors, ""
    labels, label_errors = labels_from_records(records)
    codebook = Codebook(_codebook_name(name), labels, instructions)
    return codebook, sorted(errors + label_errors, key=lambda e: e.line)


def load_codebook(
    path: Path,
    name: str,
    skip_invalid: bool = False,
    source: str | None = None,
    sheet: str | None = None,
) -> tuple[Codebook, list[RowError]]:
    """As parse_codebook, but invalid labels refuse the whole file unless `skip_invalid`."""
    codebook, errors = parse_codebook(path, name, source, sheet)
    display = source or str(path)
    refuse_invalid(display, errors, len(codebook.labels), skip_invalid)
    require_labels(codebook, display)
    return codebook, errors


def codebook_from_rows(
    name: str, rows: list[dict], instructions: str = ""
) -> tuple[Codebook, list[RowError]]:
    """A codebook written on a page: one dict a label with LABEL_KEYS (others are ignored);
    errors give the row number, from 1. Blank rows (an editor's empty last row) are skipped."""
    records = [
        (number, row)
        for number, row in enumerate(rows, start=1)
        if not all(_blank(row.get(key)) for key in LABEL_KEYS)
    ]
    labels, errors = labels_from_records(records)
    return Codebook(_codebook_name(name), labels, str(instructions or "").strip()), errors


def require_labels(codebook: Codebook, source: str) -> None:
    if len(codebook.leaves) < MIN_LEAVES:
        raise PerficsError(
            f"{source}: {len(codebook.leaves)} label(s) to code with; a codebook needs at "
            f"least {MIN_LEAVES} (labels that are no other label's parent)."
        )


def labels_from_records(
    records: list[tuple[int, dict]],
) -> tuple[tuple[CodebookLabel, ...], list[RowError]]:
    """The valid labels among (line, record) pairs, and the errors of the others."""
    errors, labels = [], []
    code_line: dict[str, int] = {}
    folded_codes: dict[str, int] = {}
    name_line: dict[str, int] = {}  # by casefolded name
    for line, record in records:
        try:
            label = _label(record)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        folded_name, folded_code = label.name.casefold(), label.code.casefold()
        if label.code in code_line:
            reason = f"duplicate code {label.code!r} (first on line {code_line[label.code]})"
        elif folded_name in name_line:
            reason = f"duplicate name {label.name!r} (first on line {name_line[folded_name]})"
        elif folded_name in folded_codes:  # Codebook.resolve could not tell which is meant
            reason = (
                f"name {label.name!r} is the code of the label on line "
                f"{folded_codes[folded_name]}; a gold value {label.name!r} could mean either"
            )
        elif folded_code in name_line:
            reason = (
                f"code {label.code!r} is the name of the label on line "
                f"{name_line[folded_code]}; a gold value {label.code!r} could mean either"
            )
        else:
            reason = None
        if reason:
            errors.append(RowError(line, reason))
            continue
        code_line[label.code], folded_codes[folded_code] = line, line
        name_line[folded_name] = line
        labels.append((line, label))
    kept, parent_errors = _link_parents(labels)
    return tuple(kept), sorted(errors + parent_errors, key=lambda e: e.line)


def _codebook_name(name: str) -> str:
    name = str(name or "").strip()
    if not name:
        raise PerficsError("A codebook needs a name.")
    return name


def _blank(value) -> bool:
    text = cell_text(value)
    return not (any(t.strip() for t in text) if isinstance(text, tuple) else text.strip())


def _one_text(value, key: str) -> str:
    if isinstance(value, (dict, list, tuple)):
        raise ValueError(f"{key!r} must be text, not {type(value).__name__}")
    text = str(cell_text(value)).strip()
    problem = surrogate_problem(text)  # a JSON "\ud800" escape: half a UTF-16 pair
    if problem:
        raise ValueError(f"{key!r} is not valid text: {problem}")
    return text


def _label(record: dict) -> CodebookLabel:
    name = _one_text(record.get("name"), "name")
    if not name:
        raise ValueError("empty name")
    if '"' in name:
        raise ValueError(
            f"name {name!r} holds a double quote; names go into the answer grammar, leave it out"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError(f"name {name!r} must be one line, without tabs or control characters")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name is {len(name)} characters; at most {MAX_NAME_CHARS}")
    return CodebookLabel(
        code=_one_text(record.get("code"), "code") or name,
        name=name,
        description=_one_text(record.get("description"), "description"),
        examples=_examples(record.get("examples")),
        parent=_one_text(record.get("parent"), "parent") or None,
    )


def _examples(value) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        parts = [_one_text(v, "examples[]") for v in value]
    else:
        parts = _one_text(value, "examples").split(EXAMPLE_SEPARATOR)
    return tuple(p.strip() for p in parts if p.strip())


def _link_parents(
    labels: list[tuple[int, CodebookLabel]],
) -> tuple[list[CodebookLabel], list[RowError]]:
    """Labels whose parent is a valid label of the codebook (written as its code, or its
    name), with the parent stored as a code; errors for unknown parents and loops, and for
    the labels under a rejected parent."""
    codes = {label.code for _, label in labels}
    code_by_name = {label.name.casefold(): label.code for _, label in labels}
    line_of = {label.code: line for line, label in labels}
    parent_of: dict[str, str | None] = {}
    errors = []
    for line, label in labels:
        parent = label.parent
        if parent is not None and parent not in codes:
            parent = code_by_name.get(parent.casefold())
            if parent is None:
                errors.append(
                    RowError(line, f"parent {label.parent!r} is no label of this codebook")
                )
                continue
        if parent == label.code:
            errors.append(RowError(line, "a label cannot be its own parent"))
            continue
        parent_of[label.code] = parent
    looping = {}
    for code in parent_of:
        chain, step = [code], parent_of[code]
        while step in parent_of and step not in chain:
            chain.append(step)
            step = parent_of[step]
        if step == code:
            looping[code] = " → ".join([*chain, code])
    for code, chain in looping.items():
        errors.append(RowError(line_of[code], f"parents loop: {chain}"))
        del parent_of[code]
    orphaned = True
    while orphaned:  # a label under a rejected label goes too, and then its own children
        orphaned = [c for c, p in parent_of.items() if p is not None and p not in parent_of]
        for code in orphaned:
            parent = parent_of.pop(code)
            errors.append(
                RowError(line_of[code], f"parent {parent!r} (line {line_of[parent]}) was rejected")
            )
    kept = [
        dataclasses.replace(label, parent=parent_of[label.code])
        for _, label in labels
        if label.code in parent_of
    ]
    return kept, errors


def _table_records(table: pd.DataFrame) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """(line, record) pairs from a table whose column names match LABEL_KEYS in any case."""
    by_key = {str(col).strip().casefold(): col for col in table.columns}
    if "name" not in by_key:
        return [], [missing_columns(table, ["name"])]
    columns = {key: by_key[key] for key in LABEL_KEYS if key in by_key}
    rows = table.to_dict("records")
    records = [
        (int(line), {key: row[col] for key, col in columns.items()})
        for line, row in zip(table.index, rows, strict=True)
    ]
    return records, []


def _json_records(text: str, source: str) -> tuple[str, list[tuple[int, dict]], list[RowError]]:
    """Instructions, the label objects by the line each starts on, and the non-objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PerficsError(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    shape = 'a list of labels, or {"instructions": "...", "labels": [...]}'
    instructions = ""
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"instructions", "labels"})
        if unknown or not isinstance(data.get("labels"), list):
            found = f"key {unknown[0]!r}" if unknown else "no 'labels' list"
            raise PerficsError(f"{source}: expected {shape}; found {found}.")
        instructions = data.get("instructions") or ""
        if not isinstance(instructions, str):
            raise PerficsError(f"{source}: 'instructions' must be text.")
        data = data["labels"]
    elif not isinstance(data, list):
        raise PerficsError(f"{source}: expected {shape}.")
    records, errors = [], []
    for line, record in zip(_label_lines(text), data, strict=True):
        if not isinstance(record, dict):
            errors.append(RowError(line, "a label must be a JSON object"))
        elif unknown := [key for key in record if key not in LABEL_KEYS]:
            errors.append(
                RowError(line, f"unknown key {unknown[0]!r}; a label has {', '.join(LABEL_KEYS)}")
            )
        else:
            records.append((line, record))
    return instructions.strip(), records, errors


def _label_lines(text: str) -> list[int]:
    """The line each element of the label list starts on, in text already known to be valid
    JSON (json.loads keeps no positions, so the list is walked with raw_decode)."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    pos = _skip(text, 0)
    if text[pos] == "{":
        pos = _member_value(text, pos, "labels")
    starts, pos = [], _skip(text, pos + 1)  # past the list's "["
    while text[pos] != "]":
        starts.append(bisect.bisect_left(newlines, pos) + 1)
        pos = _past_value(text, pos)
    return starts


def _member_value(text: str, pos: int, wanted: str) -> int:
    """Where the value of the object's last member named `wanted` starts (as json.loads
    keeps the last of repeated keys)."""
    found, pos = -1, _skip(text, pos + 1)
    while text[pos] != "}":
        key, end = _DECODER.raw_decode(text, pos)
        pos = _skip(text, _skip(text, end) + 1)  # past the ":"
        if key == wanted:
            found = pos
        pos = _past_value(text, pos)
    return found


def _past_value(text: str, pos: int) -> int:
    """The position after the value at `pos` and the comma that may follow it."""
    _, end = _DECODER.raw_decode(text, pos)
    pos = _skip(text, end)
    return _skip(text, pos + 1) if text[pos] == "," else pos


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()
