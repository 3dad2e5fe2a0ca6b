"""Datasets of texts to code, imported from CSV, JSONL, Parquet or Excel (table_files.py).

The user names the id and text columns, and optionally a gold-label column (several labels
in one cell separated by `DatasetColumns.separator`) and an intensity column lined up with
it. Gold labels are kept as written, codes or names; `Codebook.resolve` maps them later.
As with question suites, every bad row is listed by line and reason and nothing is imported
unless the caller asks to skip them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import PerficsError
from core.evaluation.import_refusal import CLI_FIX, ImportRefused
from core.evaluation.table_files import read_table
from core.types import RowError
from core.types.classification import INTENSITIES, DatasetColumns, LabelValue, TextRecord

NOTHING_VALID_FIX = "No row is valid, so there is nothing to keep: fix the file."


class ClassificationImportError(ImportRefused):
    """A dataset or codebook with invalid rows, refused whole (the rows listed, then how to
    go on)."""


def missing_columns(table: pd.DataFrame, wanted: list[str]) -> RowError | None:
    """One error for the whole file (on its header, line 1) when named columns are absent."""
    missing = [col for col in wanted if col not in table.columns]
    if not missing:
        return None
    names = ", ".join(repr(col) for col in missing)
    available = ", ".join(repr(str(col)) for col in table.columns) or "none"
    return RowError(1, f"no column {names}; the file's columns: {available}")


def split_cell(cell: str | tuple[str, ...], separator: str) -> list[str]:
    """The values of a multi-value cell, stripped, blanks dropped; a list cell (a JSON array,
    a Parquet list) is taken as it is."""
    parts = list(cell) if isinstance(cell, tuple) else str(cell).split(separator)
    return [p.strip() for p in parts if p.strip()]


def _single(cell, column: str, what: str) -> str:
    if isinstance(cell, tuple):
        raise ValueError(f"{what} (column {column!r}) must be one value, not a list")
    value = str(cell).strip()
    if not value:
        raise ValueError(f"empty {what} (column {column!r})")
    return value


def _gold(row: dict, columns: DatasetColumns) -> tuple[LabelValue, ...]:
    if columns.gold is None:
        return ()
    labels = split_cell(row[columns.gold], columns.separator)
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"gold label {repeated[0]!r} appears twice in one cell")
    if columns.intensity is None:
        return tuple(LabelValue(label) for label in labels)
    intensities = [i.lower() for i in split_cell(row[columns.intensity], columns.separator)]
    if not intensities:  # an empty intensity cell: this text's labels carry none
        return tuple(LabelValue(label) for label in labels)
    if len(intensities) != len(labels):
        raise ValueError(
            f"{len(labels)} gold label(s) but {len(intensities)} intensity value(s); "
            f"give one intensity per label, separated by {columns.separator!r}"
        )
    for intensity in intensities:
        if intensity not in INTENSITIES:
            raise ValueError(f"intensity {intensity!r} is not one of {', '.join(INTENSITIES)}")
    return tuple(LabelValue(label, i) for label, i in zip(labels, intensities, strict=True))


def _check_columns(columns: DatasetColumns) -> None:
    if not columns.separator:
        raise PerficsError("The gold-label separator is empty; use e.g. ';' or '|'.")
    if columns.intensity is not None and columns.gold is None:
        raise PerficsError("An intensity column needs a gold-label column to line up with.")


def parse_dataset(
    table: pd.DataFrame, columns: DatasetColumns
) -> tuple[list[TextRecord], list[RowError]]:
    """The table's texts and its invalid rows (each by the line `table`'s index gives it)."""
    _check_columns(columns)
    wanted = [columns.id, columns.text, columns.gold, columns.intensity]
    absent = missing_columns(table, [col for col in wanted if col is not None])
    if absent is not None:
        return [], [absent]
    records, errors, first_line = [], [], {}
    for line, row in zip(table.index, table.to_dict("records"), strict=True):
        try:
            text_id = _single(row[columns.id], columns.id, "id")
            text = _single(row[columns.text], columns.text, "text")
            gold = _gold(row, columns)
        except ValueError as exc:
            errors.append(RowError(int(line), str(exc)))
            continue
        if text_id in first_line:
            errors.append(
                RowError(
                    int(line), f"duplicate id {text_id!r} (first on line {first_line[text_id]})"
                )
            )
            continue
        first_line[text_id] = int(line)
        records.append(TextRecord(text_id, text, gold))
    return records, errors


def refuse_invalid(
    source: str, errors: list[RowError], valid: int, skip_invalid: bool, fix: str = CLI_FIX
) -> None:
    """Raise ClassificationImportError when rows are invalid and the caller does not skip
    them, or when no row is valid at all (skipping would import nothing)."""
    if errors and (not skip_invalid or not valid):
        raise ClassificationImportError(source, errors, valid, fix if valid else NOTHING_VALID_FIX)


def load_dataset(
    path: Path,
    columns: DatasetColumns,
    skip_invalid: bool = False,
    source: str | None = None,
    sheet: str | None = None,
) -> tuple[list[TextRecord], list[RowError]]:
    """The texts of `path` and the rows skipped. Invalid rows refuse the whole file unless
    `skip_invalid`. `source`: the name messages give the file (an upload's own name)."""
    name = source or str(path)
    table, read_errors = read_table(path, source, sheet)
    records, errors = parse_dataset(table, columns)
    errors = sorted(read_errors + errors, key=lambda e: e.line)
    refuse_invalid(name, errors, len(records), skip_invalid)
    if not records:
        raise PerficsError(f"{name} holds no texts.")
    return records, errors
