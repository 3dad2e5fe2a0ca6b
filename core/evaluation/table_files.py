"""Tables a user imports (texts to code, codebooks): CSV, JSONL, Parquet or Excel, read into a
DataFrame of strings indexed by the line (or spreadsheet row) each record is on in the file.

Every cell is read as the text it holds, so an id such as "007" survives. A list (a JSON
array, a Parquet list) becomes a tuple of strings. A JSONL line that is not a JSON object,
or a CSV record with more fields than its header, is returned as a RowError rather than
raised: callers list it with their own row errors. Fully blank rows carry no data and are
skipped. Anything that makes the whole file unreadable is a PerficsError naming the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import zipfile
from pathlib import Path

import pandas as pd

from core.errors import PerficsError
from core.types import RowError
from core.types.text import json_loads_text

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
TABLE_FORMATS = "CSV (.csv, .tsv, also gzipped), JSONL (.jsonl), Parquet (.parquet), Excel (.xlsx)"
_DELIMITERS = ",;\t"
_SNIFF_CHARS = 64_000
_GZIP_MAGIC = b"\x1f\x8b"


def table_format(path: Path, source: str | None = None) -> str:
    """csv | jsonl | parquet | excel, from the file's suffix (a trailing .gz ignored)."""
    name = source or path.name
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    for kind, known in (
        ("csv", CSV_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
        ("excel", EXCEL_SUFFIXES),
    ):
        if suffix in known:
            return kind
    if suffix == ".xls":
        raise PerficsError(f"{name}: old .xls workbooks are not read; save it as .xlsx.")
    raise PerficsError(f"{name}: unknown table format {suffix or '(none)'!r}; use {TABLE_FORMATS}.")


def read_text(path: Path, source: str | None = None) -> str:
    """The file's text, gunzipped when it is gzip data; UTF-8 with or without a BOM."""
    name = source or str(path)
    try:
        data = path.read_bytes()
        if data[:2] == _GZIP_MAGIC or path.suffix.lower() == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise PerficsError(f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PerficsError(
            f"Cannot read {name}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
            "save it as UTF-8 (in Excel: CSV UTF-8)."
        ) from exc


def read_table(
    path: Path, source: str | None = None, sheet: str | None = None
) -> tuple[pd.DataFrame, list[RowError]]:
    """The file's records as strings, indexed by line, and the lines no record could be read from.
    `source`: the name messages give the file (an upload's own name, not its temporary copy);
    `sheet`: the Excel sheet to read (default: the first)."""
    name = source or str(path)
    kind = table_format(path, source)
    if kind == "csv":
        header, rows, errors = _csv_rows(read_text(path, source), path, name)
    elif kind == "jsonl":
        header, rows, errors = _jsonl_rows(read_text(path, source))
    elif kind == "parquet":
        header, rows, errors = _parquet_rows(path, name)
    else:
        header, rows, errors = _excel_rows(path, name, sheet)
    lines = [line for line, _ in rows]
    columns = {col: [values[i] for _, values in rows] for i, col in enumerate(header)}
    frame = pd.DataFrame(columns, index=pd.Index(lines, name="line", dtype="int64"), dtype=object)
    return frame, errors


def columns_of(path: Path, source: str | None = None, sheet: str | None = None) -> list[str]:
    """The column names a table offers, for column pickers."""
    return [str(c) for c in read_table(path, source, sheet)[0].columns]


def sheet_names(path: Path, source: str | None = None) -> list[str]:
    workbook = _open_workbook(path, source or str(path))
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def cell_text(value) -> str | tuple[str, ...]:
    """A cell as the text it shows: integral numbers without '.0', blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return tuple(str(cell_text(v)) for v in value)
    return str(value)


def _header(cells: list[str], name: str) -> list[str]:
    header = [str(c).strip() or f"column {i}" for i, c in enumerate(cells, start=1)]
    seen = set()
    for col in header:
        if col in seen:
            raise PerficsError(f"{name}: the header names column {col!r} twice.")
        seen.add(col)
    return header


def _fit(line: int, cells: list, width: int, errors: list[RowError]) -> list | None:
    """The row padded to the header's width; None (and an error) when it has more values."""
    extra = [c for c in cells[width:] if c != ""]
    if extra:
        errors.append(RowError(line, f"{len(cells)} fields but the header has {width}"))
        return None
    cells = cells[:width]
    return cells + [""] * (width - len(cells))


def _delimiter(text: str, path: Path) -> str:
    if any(s.lower() == ".tsv" for s in path.suffixes):
        return "\t"
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    header = sample.split("\n", 1)[0]
    in_header = max(_DELIMITERS, key=header.count)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and (sniffed in header or not header.count(in_header)):
        return sniffed
    # No guess, or one the header never uses (texts full of semicolons in a comma file).
    return in_header if header.count(in_header) else ","


def _csv_rows(text: str, path: Path, name: str):
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text, path))
    rows, errors, header = [], [], None
    previous_end = 0  # records may span lines: a record starts after the previous one ends
    try:
        for cells in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _header(cells, name)
                continue
            fitted = _fit(line, cells, len(header), errors)
            if fitted is not None:
                rows.append((line, fitted))
    except csv.Error as exc:
        raise PerficsError(f"Cannot read {name}: line {reader.line_num}: {exc}") from exc
    if header is None:
        raise PerficsError(f"{name} is empty: expected a header row naming the columns.")
    return header, rows, errors


def _jsonl_rows(text: str):
    records, errors = [], []
    # Split on "\n" only: str.splitlines would also break at a U+2028 inside a JSON string.
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            # Numbers are kept as written: an id 007.0 stays "007.0", 1e3 stays "1e3".
            record = json_loads_text(raw, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            errors.append(RowError(line, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            errors.append(RowError(line, "not a JSON object"))
            continue
        records.append((line, record))
    header = list(dict.fromkeys(key for _, record in records for key in record))
    rows = [(line, [cell_text(rec.get(key)) for key in header]) for line, rec in records]
    return header, rows, errors


def _parquet_rows(path: Path, name: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise PerficsError(f"Cannot read {name}: not a readable Parquet file ({exc})") from exc
    header = _header(table.column_names, name)
    # Spreadsheet numbering: the header is row 1, so the first record is row 2.
    rows = [
        (index, [cell_text(record[col]) for col in table.column_names])
        for index, record in enumerate(table.to_pylist(), start=2)
    ]
    return header, [r for r in rows if any(c != "" for c in r[1])], []


def _open_workbook(path: Path, name: str):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise PerficsError(f"Cannot read {name}: not a readable .xlsx workbook ({exc})") from exc


def _excel_rows(path: Path, name: str, sheet: str | None):
    workbook = _open_workbook(path, name)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise PerficsError(
                f"{name} has no sheet {sheet!r}; its sheets: {', '.join(workbook.sheetnames)}."
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        rows, errors, header = [], [], None
        for line, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            if not any(str(c).strip() for c in cells):
                continue
            if header is None:
                while cells and cells[-1] == "":
                    cells.pop()  # a sheet's used range often runs past the last header cell
                header = _header(cells, name)
                continue
            fitted = _fit(line, cells, len(header), errors)
            if fitted is not None:
                rows.append((line, fitted))
    finally:
        workbook.close()
    if header is None:
        raise PerficsError(f"{name} is empty: expected a header row naming the columns.")
    return header, rows, errors
