"""The Classify page's files and forms: tables uploaded in the browser (their columns, a
dataset or codebook imported from them) and a codebook written in the page's table editor.

An upload is written to a temporary file that keeps its name, so its suffix picks the reader
(CSV, JSONL, Parquet, Excel) and every message names the file the user chose, never the
temporary copy. Errors point at the page's checkbox rather than the CLI's --skip-invalid.
"""

from __future__ import annotations

from core.app import classify
from core.app.runs import for_the_page, saved_upload
from core.evaluation.classification_import import ClassificationImportError
from core.evaluation.codebook_import import codebook_from_rows, require_labels
from core.evaluation.import_refusal import ImportRefused
from core.evaluation.table_files import columns_of
from core.types.classification import DatasetColumns

WRITTEN = "The codebook table"


def _page_fix(exc: ClassificationImportError) -> ImportRefused:
    return for_the_page(exc, exc.source, "No row is valid: fix the file and upload it again.")


def upload_columns(file_name: str, data: bytes) -> list[str]:
    """The columns an uploaded table offers, for the page's column pickers."""
    with saved_upload(file_name, data) as path:
        return columns_of(path, source=file_name)


def import_dataset_upload(
    file_name: str, data: bytes, name: str, columns: DatasetColumns, skip_invalid: bool
) -> tuple[int, list]:
    """(texts stored, rows skipped); nothing is stored when a row is bad and not skipped."""
    with saved_upload(file_name, data) as path:
        try:
            return classify.import_dataset(path, name, columns, skip_invalid, source=file_name)
        except ClassificationImportError as exc:
            raise _page_fix(exc) from None


def import_codebook_upload(
    file_name: str, data: bytes, name: str, skip_invalid: bool
) -> tuple[int, list]:
    """(labels stored, rows skipped) from an uploaded CSV, Excel or JSON codebook."""
    with saved_upload(file_name, data) as path:
        try:
            return classify.import_codebook(path, name, skip_invalid, source=file_name)
        except ClassificationImportError as exc:
            raise _page_fix(exc) from None


def save_written_codebook(name: str, rows: list[dict], instructions: str) -> int:
    """A codebook written in the page's table (one dict a row: code, name, description,
    examples separated by |, parent). Any bad row refuses the whole codebook, listed by row."""
    book, errors = codebook_from_rows(name, rows, instructions)
    if errors:
        raise ClassificationImportError(
            WRITTEN, errors, len(book.labels), "Fix these rows (numbered from 1) and save again."
        )
    require_labels(book, WRITTEN)
    return classify.save_codebook(book)
