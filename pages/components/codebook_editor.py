"""The Classify page's codebooks: import one (CSV, Excel or JSON), write one in a table, and
look at a stored one's labels with their hierarchy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.app import classify, classify_uploads
from core.app.runs import SKIP_INVALID_LABEL
from core.errors import PerficsError
from core.types.classification import Codebook
from pages.components.classify_data import pick_with_delete, show_error, show_skipped
from pages.components.text import escape

CODEBOOK_TYPES = ["csv", "tsv", "xlsx", "json"]
EDITOR_COLUMNS = ["code", "name", "description", "examples", "parent"]


def codebook_import() -> None:
    with st.expander("Import a codebook (CSV, Excel or JSON)"):
        st.caption(
            "Columns (any case): name (required), code, description, examples (separated by "
            '|), parent. JSON: a list of labels, or {"instructions": …, "labels": […]}.'
        )
        upload = st.file_uploader("Codebook file", type=CODEBOOK_TYPES, key="cls_cb_upload")
        c1, c2 = st.columns([2, 3])
        typed = c1.text_input(
            "Codebook name", key="cls_cb_name", placeholder="defaults to the file name"
        )
        name = typed.strip() or (Path(upload.name).stem if upload else "")
        skip = c2.checkbox(SKIP_INVALID_LABEL, key="cls_cb_skip")
        if st.button("Import codebook", key="cls_cb_import", disabled=upload is None):
            try:
                stored, skipped = classify_uploads.import_codebook_upload(
                    upload.name, upload.getvalue(), name, skip
                )
                st.success(f"Imported {stored} labels into codebook “{escape(name)}”.")
                show_skipped(skipped)
            except PerficsError as exc:
                show_error(exc)


def _rows(edited: pd.DataFrame) -> list[dict]:
    return [
        {k: ("" if pd.isna(v) else str(v)) for k, v in row.items()}
        for row in edited.to_dict("records")
    ]


def codebook_writer() -> None:
    with st.expander("Write a codebook"):
        st.caption(
            "One row a label. The name is what a model writes and you read; the code (default: "
            "the name) is what is stored. Examples separated by |. Parent: the code of a "
            "broader label; texts are coded with the labels that are no other label's parent."
        )
        name = st.text_input("Codebook name", key="cls_cbw_name")
        instructions = st.text_area(
            "Instructions for the coders (optional)", key="cls_cbw_instructions", height=80
        )
        edited = st.data_editor(
            pd.DataFrame({c: pd.Series(dtype="str") for c in EDITOR_COLUMNS}),
            num_rows="dynamic",
            key="cls_cbw_table",
            width="stretch",
            column_config={
                "code": st.column_config.TextColumn("Code"),
                "name": st.column_config.TextColumn("Name", required=True),
                "description": st.column_config.TextColumn("Description"),
                "examples": st.column_config.TextColumn("Examples (a | b)"),
                "parent": st.column_config.TextColumn("Parent code"),
            },
        )
        if st.button("Save codebook", key="cls_cbw_save"):
            try:
                stored = classify_uploads.save_written_codebook(name, _rows(edited), instructions)
                st.success(f"Saved codebook “{escape(name.strip())}” with {stored} labels.")
            except PerficsError as exc:
                show_error(exc)


def _path(book: Codebook, code: str) -> str:
    """ "Economy › Taxes": the label under its broader labels."""
    names, label = [], book.label(code)
    while True:
        names.append(label.name)
        if label.parent is None or len(names) > len(book.labels):
            return " › ".join(reversed(names))
        label = book.label(label.parent)


def labels_table(book: Codebook) -> pd.DataFrame:
    """One row a label, each right under its parent, named by its path from the top."""
    children: dict[str | None, list] = {}
    for label in book.labels:
        children.setdefault(label.parent, []).append(label)
    ordered, stack = [], list(reversed(children.get(None, [])))
    while stack:
        label = stack.pop()
        ordered.append(label)
        stack.extend(reversed(children.get(label.code, [])))
    ordered += [x for x in book.labels if x not in ordered]  # none expected: parents are checked
    leaves = {label.code for label in book.leaves}
    return pd.DataFrame(
        {
            "label": [_path(book, x.code) for x in ordered],
            "code": [x.code for x in ordered],
            "parent": [x.parent or "" for x in ordered],
            "coded_with": [x.code in leaves for x in ordered],
            "description": [x.description for x in ordered],
            "examples": [" | ".join(x.examples) for x in ordered],
        }
    )


def codebooks_view() -> list[str]:
    """The stored codebooks, one of them in full, with delete; returns their names."""
    table = classify.codebooks()
    if table.empty:
        st.info("No codebook yet: import one or write one above.")
        return []
    pick = pick_with_delete(
        "Codebook",
        list(table.name),
        "cls_cb_pick",
        "cls_cb",
        "Delete codebook",
        classify.delete_codebook,
    )
    book = classify.codebook(pick)
    if book.instructions:
        st.caption(f"Instructions: {escape(book.instructions)}")
    st.dataframe(
        labels_table(book),
        hide_index=True,
        width="stretch",
        column_config={
            "label": "Label",
            "code": "Code",
            "parent": "Parent",
            "coded_with": st.column_config.CheckboxColumn(
                "Coded with", help="Labels that are no other label's parent"
            ),
            "description": "Description",
            "examples": "Examples",
        },
    )
    return list(table.name)
