"""Which schema version a store file holds, and whether this build may read or write it.

A file written by a newer build is refused outright: its tables may mean something this
build does not know. A file that is behind needs migrating, which a read-only one cannot."""

from __future__ import annotations

import duckdb

from core.errors import SchemaTooNew, StoreReadOnly
from core.store.duck import scalar


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration recorded in the file; 0 for a file that has none yet."""
    recorded = scalar(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'schema_version'",
    )
    if not recorded:
        return 0
    return scalar(con, "SELECT coalesce(max(version), 0) FROM schema_version")


def _file_of(con: duckdb.DuckDBPyConnection) -> str:
    return scalar(
        con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    )


def refuse_newer(con: duckdb.DuckDBPyConnection, known: int, path: str | None = None) -> int:
    """The file's schema version; SchemaTooNew when a build knowing more than `known`
    migrations wrote it."""
    current = schema_version(con)
    if current > known:
        raise SchemaTooNew(path or _file_of(con), current, known)
    return current


def check_readable(con: duckdb.DuckDBPyConnection, known: int, path: str, why: str) -> None:
    """A file opened read-only (`why` says why) must hold exactly this build's schema: a
    newer one is refused, an older one cannot be upgraded in place."""
    current = refuse_newer(con, known, path)
    if current < known:
        raise StoreReadOnly(
            f"The database {path} has schema version {current} and this build needs version "
            f"{known}, but it is read-only ({why}), so it cannot be upgraded. Copy it to a "
            "writable folder and point PERFICS_DB at the copy."
        )
