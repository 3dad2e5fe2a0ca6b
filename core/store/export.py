"""Whole tables out to Parquet or CSV."""

from __future__ import annotations

from pathlib import Path

from core.errors import StoreError
from core.store.database import Database
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


def export_table(db: Database, table: str, out: str | Path, fmt: str) -> int:
    """Write a whole table to parquet or csv; returns the number of rows written."""
    if table not in EXPORTABLE_TABLES:
        raise StoreError(f"Unknown table {table!r}; choose one of {', '.join(EXPORTABLE_TABLES)}")
    if fmt not in FORMATS:
        raise StoreError(f"Unknown format {fmt!r}; choose parquet or csv")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create {out.parent}: {exc}") from exc
    with db.connect() as con:
        relation = con.table(table)
        # The table name is checked against EXPORTABLE_TABLES above; identifiers cannot be
        # bound as parameters.
        rows = scalar(con, f"SELECT count(*) FROM {table}")
        if fmt == "parquet":
            relation.write_parquet(str(out))
        else:
            relation.write_csv(str(out))
    return rows
