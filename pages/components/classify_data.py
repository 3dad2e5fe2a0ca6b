"""The Classify page's datasets: upload a table of texts, pick its columns, import it (bad
rows listed by line, nothing imported unless they are skipped), and the datasets stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.app import classify, classify_uploads
from core.app.runs import SKIP_INVALID_LABEL
from core.errors import PerficsError
from core.types.classification import DatasetColumns
from pages.components.text import escape

TABLE_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "xlsx"]
NONE = "(none)"
# Column names a file commonly uses, so the pickers start on them.
GUESSES = {
    "id": ("id", "text_id", "doc_id"),
    "text": ("text", "title", "content", "body"),
    "gold": ("label", "labels", "gold", "code", "topic"),
    "intensity": ("intensity", "intensities"),
}


def show_error(exc: PerficsError) -> None:
    """An error with one row a line, as the import errors list them."""
    st.error("  \n".join(escape(line.strip()) for line in str(exc).splitlines()))


def show_skipped(skipped: list) -> None:
    if skipped:
        rows = "  \n".join(escape(str(err)) for err in skipped)
        st.warning(f"Skipped {len(skipped)} invalid row(s):  \n{rows}")


def pick_with_delete(
    label: str,
    names: list[str],
    pick_key: str,
    prefix: str,
    delete_label: str,
    delete: Callable[[str], None],
) -> str:
    """A picker with Confirm delete and a delete button beside it (keyed
    `{prefix}_delete_confirm_{name}` and `{prefix}_delete`); returns the name picked."""
    c1, c2, c3 = st.columns([3, 1, 1])
    pick = c1.selectbox(label, names, key=pick_key)
    sure = c2.checkbox("Confirm delete", key=f"{prefix}_delete_confirm_{pick}")
    if c3.button(delete_label, key=f"{prefix}_delete", disabled=not sure):
        try:
            delete(pick)
            st.rerun()
        except PerficsError as exc:
            show_error(exc)
    return pick


def _guess(columns: list[str], role: str, fallback: int | None) -> int:
    lowered = [c.strip().lower() for c in columns]
    for name in GUESSES[role]:
        if name in lowered:
            return lowered.index(name)
    return min(fallback, len(columns) - 1) if fallback is not None else 0


def _columns(upload) -> list[str] | None:
    """The uploaded table's columns, read once per upload."""
    cached = st.session_state.get("cls_ds_columns")
    if cached and cached[0] == upload.file_id:
        return cached[1]
    try:
        columns = classify_uploads.upload_columns(upload.name, upload.getvalue())
    except PerficsError as exc:
        show_error(exc)
        return None
    st.session_state["cls_ds_columns"] = (upload.file_id, columns)
    return columns


def _pick_columns(columns: list[str]) -> DatasetColumns:
    optional = [NONE, *columns]
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 2, 1])
    id_col = c1.selectbox("Id column", columns, _guess(columns, "id", 0), key="cls_ds_id")
    text_col = c2.selectbox("Text column", columns, _guess(columns, "text", 1), key="cls_ds_text")
    gold = c3.selectbox(
        "Gold labels (optional)",
        optional,
        _guess(optional, "gold", None),
        key="cls_ds_gold",
        help="Labels human coders gave the texts before; codes or label names.",
    )
    intensity = c4.selectbox(
        "Intensities (optional)",
        optional,
        _guess(optional, "intensity", None),
        key="cls_ds_intensity",
        help="low / medium / high, one per gold label, in the same order.",
    )
    separator = c5.text_input(
        "Separator", ";", key="cls_ds_separator", help="Between several labels in one cell."
    )
    return DatasetColumns(
        id_col,
        text_col,
        None if gold == NONE else gold,
        None if intensity == NONE else intensity,
        separator,
    )


def dataset_import() -> None:
    with st.expander("Import a dataset (CSV, JSONL, Parquet or Excel)", expanded=True):
        upload = st.file_uploader("Table of texts", type=TABLE_TYPES, key="cls_ds_upload")
        if upload is None:
            st.caption("One row a text: an id column, a text column, and optionally gold labels.")
            return
        columns = _columns(upload)
        if not columns:
            return
        chosen = _pick_columns(columns)
        c1, c2 = st.columns([2, 3])
        name = c1.text_input("Dataset name", Path(upload.name).stem, key="cls_ds_name")
        skip = c2.checkbox(SKIP_INVALID_LABEL, key="cls_ds_skip")
        if st.button("Import dataset", key="cls_ds_import", type="primary"):
            try:
                stored, skipped = classify_uploads.import_dataset_upload(
                    upload.name, upload.getvalue(), name, chosen, skip
                )
                st.success(f"Imported {stored} texts into dataset “{escape(name.strip())}”.")
                show_skipped(skipped)
            except PerficsError as exc:
                show_error(exc)


def datasets_table() -> list[str]:
    """The stored datasets with a delete control; returns their names."""
    table = classify.datasets()
    if table.empty:
        st.info("No dataset yet: upload a table of texts above.")
        return []
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Dataset",
            "source": "Imported from",
            "created_at": st.column_config.DatetimeColumn("Imported (UTC)"),
            "texts": "Texts",
            "gold_texts": st.column_config.NumberColumn(
                "With gold labels", help="Texts with at least one gold label"
            ),
            "multi_label": st.column_config.CheckboxColumn(
                "Multi-label", help="Some text has several gold labels"
            ),
        },
    )
    pick_with_delete(
        "Dataset to delete",
        list(table.name),
        "cls_ds_delete_pick",
        "cls_ds",
        "Delete dataset",
        classify.delete_dataset,
    )
    return list(table.name)
