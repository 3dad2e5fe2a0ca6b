"""The error of a file refused whole for its invalid rows (a question suite, a dataset of texts,
a codebook): every bad row listed by line and reason, and how to go on."""

from __future__ import annotations

from core.errors import PerficsError
from core.types import RowError

CLI_FIX = "Fix the rows, or import with --skip-invalid to keep the valid ones."
LISTED_ROWS = 50  # the message lists this many bad rows and counts the rest


class ImportRefused(PerficsError):
    """A file with invalid rows, refused whole. The message lists the rows one per line;
    `fix` says how to go on (the CLI's flag by default; a page names its checkbox)."""

    def __init__(self, source: str, errors: list[RowError], valid: int, fix: str = CLI_FIX):
        self.source, self.errors, self.valid, self.fix = source, errors, valid, fix
        listing = "\n".join(f"  {e}" for e in errors[:LISTED_ROWS])
        extra = len(errors) - LISTED_ROWS
        more = f"\n  … and {extra} more" if extra > 0 else ""
        super().__init__(
            f"{source}: {len(errors)} invalid row(s), {valid} valid; nothing was imported.\n"
            f"{listing}{more}\n{fix}"
        )
