"""One DuckDB file, opened for one operation at a time.

DuckDB allows one writing process per file, and the dashboard and a terminal `perfics run`
must both keep working side by side: every operation opens its own short-lived connection,
waits briefly when another process holds the lock, and closes it again.

A store that cannot be written (a read-only file system, no permission on the file or its
folder) is opened read-only: everything that reads works, and a write fails with
StoreReadOnly. DuckDB replays a leftover .wal in memory on such a file, so nothing committed
is missed, and it writes nothing there.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.errors import StoreError, StoreFull, StoreLocked, StoreReadOnly
from core.store.duck import scalar
from core.store.migrations import MIGRATIONS, migrate
from core.store.schema_check import check_readable

_RETRY_PAUSE_S = 0.1
# One connection per file at a time within this process too: DuckDB refuses to open a file
# while another thread's connection to it is being closed ("file handle conflict"), and the
# heartbeat thread writes while the main thread works.
_PROCESS_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
# Told (path, why) each time a store is opened read-only: the CLI prints a note once.
_read_only_listener: Callable[[Path, str], None] | None = None

_ERRNO = re.compile(r'"errno"\s*:\s*"?(\d+)')
_FULL = ("no space left on device", "disk quota exceeded")
_TOO_LARGE = "file too large"
_DENIED = ("read-only file system", "permission denied")


def on_read_only(listener: Callable[[Path, str], None] | None) -> None:
    """Call `listener(path, why)` whenever a store is opened read-only (None: nobody)."""
    global _read_only_listener
    _read_only_listener = listener


def _process_lock(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(path.resolve(), threading.RLock())


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def os_reason(message: str) -> str:
    """The operating system's reason in a DuckDB I/O message: from the errno it carries, or
    the text after the file name ('... file "/x/y": No space left on device')."""
    found = _ERRNO.search(message)
    if found:
        return os.strerror(int(found.group(1)))
    _, sep, tail = message.rpartition('": ')
    return tail.strip() if sep and tail.strip() else message


def _writable(path: Path) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK, effective_ids=True)
    return os.access(path, os.W_OK)


def read_only_reason(path: Path) -> str | None:
    """Why an existing store file can be read but not written; None when it can be written
    or does not exist yet. DuckDB writes a .wal beside the file, so its folder counts too."""
    try:
        if not path.is_file():
            return None
    except OSError:  # a folder on the way cannot be entered: opening it will say so
        return None
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    if not _writable(path):
        return "no permission to write the file"
    if not _writable(path.parent):
        return f"no permission to write in its folder {path.parent}"
    wal = Path(f"{path}.wal")
    if os.path.exists(wal) and not _writable(wal):
        return f"no permission to write {wal.name}"
    return None


def read_only_error(path: Path, why: str) -> StoreReadOnly:
    return StoreReadOnly(
        f"The database {path} is read-only ({why}); copy it to a writable folder and point "
        "PERFICS_DB at the copy to change anything."
    )


def full_error(path: Path, message: str) -> StoreFull | None:
    """The disk holding the store is full or the file hit its size limit; None otherwise."""
    lowered = message.lower()
    kept = "the last change was not stored; everything finished before it is kept"
    if _TOO_LARGE in lowered:
        return StoreFull(
            f"The database {path} has reached the largest file this system allows "
            f"({os_reason(message)}): {kept}. Move it where files may grow (PERFICS_DB), "
            "then carry on; `perfics run --resume RUN_ID` continues a run."
        )
    if any(text in lowered for text in _FULL):
        return StoreFull(
            f"The disk holding {path} is full ({os_reason(message)}): {kept}. Free some space, "
            "then carry on; `perfics run --resume RUN_ID` continues a run."
        )
    return None


class Database:
    """A path to a DuckDB file; holds no connection between operations."""

    def __init__(self, path: str | Path, lock_timeout_s: float = 10.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._migrated = False
        self._checked = False  # opened read-only: its schema is this build's
        self._why_read_only: str | None = None
        self._access_checked = False
        self._lock = _process_lock(self.path)

    @property
    def read_only_reason(self) -> str | None:
        """Why this store can only be read (checked once), or None when it can be written."""
        if not self._access_checked:
            self._why_read_only = read_only_reason(self.path)
            self._access_checked = True
        return self._why_read_only

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def read_only_error(self) -> StoreReadOnly:
        return read_only_error(self.path, self.read_only_reason or "opened read-only")

    def _error(self, exc: duckdb.Error) -> StoreError:
        text = str(exc)
        if self.read_only and "read-only mode" in text:
            return self.read_only_error()
        full = full_error(self.path, text)
        if full is not None:
            return full
        if any(denied in text.lower() for denied in _DENIED):
            return read_only_error(self.path, os_reason(text))
        return StoreError(f"Database error in {self.path}: {exc}")

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            con, read_only = self._open(read_only)
            failed = False
            try:
                if read_only and not (self._migrated or self._checked):
                    why = self.read_only_reason or "opened read-only"
                    check_readable(con, len(MIGRATIONS), str(self.path), why)
                    self._checked = True
                elif not read_only and not self._migrated:
                    migrate(con, str(self.path))
                    self._migrated = True
                yield con
            except duckdb.Error as exc:
                failed = True
                raise self._error(exc) from exc
            except BaseException:
                failed = True
                raise
            finally:
                try:
                    con.close()
                except duckdb.Error as exc:  # a checkpoint on closing can meet a full disk
                    if not failed:
                        raise self._error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: everything in it is stored, or nothing."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                # A failed write may have ended the transaction already; its own error is
                # the one to report.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _open(self, read_only: bool) -> tuple[duckdb.DuckDBPyConnection, bool]:
        """A connection and whether it is read-only (asked for, or all this store allows)."""
        read_only = read_only or self.read_only
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the database folder {self.path.parent}: {exc}"
                ) from exc
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                text = str(exc)
                denied = any(d in text.lower() for d in _DENIED)
                if denied and not read_only and self.path.is_file():
                    # Writing refused although the checks allowed it (an ACL, a mount
                    # option): read what is there.
                    self._why_read_only, self._access_checked = os_reason(text), True
                    read_only = True
                    continue
                if _is_lock_conflict(exc):
                    if time.monotonic() >= deadline:
                        raise StoreLocked(
                            f"The database {self.path} is locked by another process "
                            f"(waited {self.lock_timeout_s:g} s). Try again when it finishes. "
                            f"Details: {exc}"
                        ) from exc
                    time.sleep(_RETRY_PAUSE_S)
                    continue
                if denied:
                    raise StoreReadOnly(
                        f"Cannot create the database {self.path}: its folder cannot be written "
                        f"({os_reason(text)}). Point PERFICS_DB at a writable folder."
                    ) from exc
                full = full_error(self.path, text)
                raise full or StoreError(f"Cannot open the database {self.path}: {exc}") from exc
            if read_only and _read_only_listener is not None:
                _read_only_listener(self.path, self.read_only_reason or "opened read-only")
            return con, read_only

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
