"""Files the user asks us to write (exports): never onto the results database, never over an
existing file unless asked, and never half a file.

Every writer goes through `replacing`: it refuses the store and its .wal (by any spelling),
refuses an existing file without `force`, hands out a temporary file beside the target, and
renames it into place only once it is complete. A failure removes the temporary file and
names the output path with the system's reason."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.app import context
from core.engine.model_folder import printable
from core.errors import InvalidRequest, OutputFileError
from core.store.export import check_export, is_store_file
from core.types.text import surrogate_problem


def check_target(out: Path, force: bool) -> None:
    """Refuse the store (before the exists check, so that its --force hint is never given
    for the store), a folder, and an existing file unless `force`."""
    if is_store_file(out, context.store().path):
        raise InvalidRequest(f"{out} is the results database itself; choose another file.")
    try:
        is_folder, taken = out.is_dir(), out.exists() or out.is_symlink()
    except OSError as exc:  # a folder on the way cannot be entered
        raise OutputFileError(str(out), exc.strerror or str(exc)) from exc
    if is_folder:
        raise InvalidRequest(f"{out} is a folder; give the name of a file to write.")
    if taken and not force:
        raise InvalidRequest(
            f"{out} exists already; choose another file or overwrite it (--force)."
        )


def partial_path(out: Path) -> Path:
    """The temporary file beside `out`: hidden, and keeping the last suffix, so that a
    writer that picks compression by extension (x.csv.gz) still does. DuckDB takes only
    UTF-8 paths, so a name holding other bytes (a POSIX name may) gets a plain temporary
    name; the rename then gives the file the name asked for."""
    # The process id keeps two exports to one file, at once, off each other's temporary file.
    name = f".{out.stem}.{os.getpid()}.partial{out.suffix}"
    if surrogate_problem(name):
        suffix = "" if surrogate_problem(out.suffix) else out.suffix
        name = f".perfics-export-{os.getpid()}.partial{suffix}"
    return out.with_name(name)


@contextmanager
def replacing(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield the temporary path to write; once the body finishes, it becomes `out`."""
    out = Path(out)
    if surrogate_problem(str(out.parent.resolve())):
        raise OutputFileError(
            printable(str(out)),
            "its folder's name is not valid UTF-8, which the database cannot write to; "
            "choose a folder with a UTF-8 name",
        )
    check_target(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(
            str(out), f"the folder {out.parent} cannot be made ({exc.strerror or exc})"
        ) from exc
    tmp = partial_path(out)
    try:
        yield tmp
        tmp.replace(out)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OutputFileError):
            raise OutputFileError(str(out), exc.reason) from exc
        if isinstance(exc, OSError):
            raise OutputFileError(str(out), exc.strerror or str(exc)) from exc
        raise


def export_table(table: str, out: str | Path, fmt: str, force: bool = False) -> int:
    """`perfics export`: a whole table of the store to parquet or csv; the rows written."""
    check_export(table, fmt)
    with replacing(out, force) as tmp:
        return context.store().export(table, tmp, fmt)
