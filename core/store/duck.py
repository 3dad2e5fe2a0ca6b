"""Small DuckDB helpers shared by the store's modules and its migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    # fetchall() completes the result; DuckDB 2 keeps a connection busy after fetchone().
    return con.execute(sql, params or []).fetchall()[0][0]


def now() -> datetime:
    """UTC without a zone, as stored in every TIMESTAMP column."""
    return datetime.now(UTC).replace(tzinfo=None)


def insert_sql(table: str, row: dict[str, Any]) -> tuple[str, list[Any]]:
    """An INSERT for a row whose keys are our own column names (never user input)."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())


def is_missing(value: Any) -> bool:
    """NULL as pandas hands it back: None, NaN or NaT."""
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def optional(value: Any) -> Any:
    return None if is_missing(value) else value
