"""One DuckDB file, opened for one operation at a time.

DuckDB allows one writing process per file, and the dashboard and a terminal `perfics run`
must both keep working side by side: every operation opens its own short-lived connection,
waits briefly when another process holds the lock, and closes it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.errors import StoreError, StoreLocked
from core.store.duck import scalar
from core.store.migrations import migrate

_RETRY_PAUSE_S = 0.1
# One connection per file at a time within this process too: DuckDB refuses to open a file
# while another thread's connection to it is being closed ("file handle conflict"), and the
# heartbeat thread writes while the main thread works.
_PROCESS_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(path.resolve(), threading.RLock())


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class Database:
    """A path to a DuckDB file; holds no connection between operations."""

    def __init__(self, path: str | Path, lock_timeout_s: float = 10.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._migrated = False
        self._lock = _process_lock(self.path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            con = self._open(read_only)
            try:
                if not self._migrated and not read_only:
                    migrate(con)
                    self._migrated = True
                yield con
            except duckdb.Error as exc:
                raise StoreError(f"Database error in {self.path}: {exc}") from exc
            finally:
                con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: everything in it is stored, or nothing."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the database folder {self.path.parent}: {exc}"
            ) from exc
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise StoreError(f"Cannot open the database {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StoreLocked(
                        f"The database {self.path} is locked by another process "
                        f"(waited {self.lock_timeout_s:g} s). Try again when it finishes. "
                        f"Details: {exc}"
                    ) from exc
                time.sleep(_RETRY_PAUSE_S)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        with self.connect() as con:
            con.execute(sql, params or [])

    def query_df(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with self.connect() as con:
            return scalar(con, sql, params)
