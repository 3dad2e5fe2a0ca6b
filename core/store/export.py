"""Whole tables out to Parquet or CSV."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from core.errors import OutputFileError, StoreError
from core.store.database import Database, os_reason
from core.store.duck import scalar

EXPORTABLE_TABLES = (
    "models",
    "runs",
    "generations",
    "suites",
    "questions",
    "run_items",
    "judgments",
    "votes",
    "likelihood_scores",
    "cls_texts",
    "cls_gold",
    "cls_labels",
    "cls_proposals",
    "cls_reviews",
    "cls_review_labels",
    "ft_steps",
    "ft_validation",
    "curve_points",
    "load_test_levels",
    "load_test_requests",
)
FORMATS = ("parquet", "csv")


def is_store_file(out: Path, store: Path) -> bool:
    """`out` names the store file or its .wal, by any spelling: relative, through a symlink,
    or (for an existing file) a hard link."""
    targets = (store, Path(f"{store}.wal"))
    resolved = out.resolve()
    if any(resolved == t.resolve() for t in targets):
        return True
    try:
        return out.exists() and any(t.exists() and os.path.samefile(out, t) for t in targets)
    except OSError:
        return False


def check_export(table: str, fmt: str) -> None:
    if table not in EXPORTABLE_TABLES:
        raise StoreError(f"Unknown table {table!r}; choose one of {', '.join(EXPORTABLE_TABLES)}")
    if fmt not in FORMATS:
        raise StoreError(f"Unknown format {fmt!r}; choose parquet or csv")


def export_table(db: Database, table: str, out: str | Path, fmt: str) -> int:
    """Write a whole table to parquet or csv at `out` as given, in a folder that exists;
    returns the number of rows written. core.app.output_files is the way in: it refuses the
    store and existing files, makes the folder and hands out a temporary file. A failure to
    write `out` is an OutputFileError naming it, never a database error."""
    check_export(table, fmt)
    out = Path(out)
    with db.connect() as con:
        relation = con.table(table)
        # The table name is checked against EXPORTABLE_TABLES above; identifiers cannot be
        # bound as parameters.
        rows = scalar(con, f"SELECT count(*) FROM {table}")
        try:
            if fmt == "parquet":
                relation.write_parquet(str(out))
            else:
                relation.write_csv(str(out))
        except duckdb.Error as exc:
            raise OutputFileError(str(out), os_reason(str(exc))) from exc
    return rows
