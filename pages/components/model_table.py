"""The Models page's table of GGUF files and endpoints, and how every model selector names a
model (core.app.formatting.model_label: marked when its data leaves this machine)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from core.app.formatting import model_label
from core.app.options import model_row
from core.types import ModelInfo, SkippedPath

text = st.column_config.TextColumn
MODEL_COLUMNS = {
    "name": text("Name", help="A file stem, or an endpoint's name"),
    "served_by": text("Served by", help="This process (a GGUF file) or an endpoint"),
    "usable": st.column_config.CheckboxColumn("Usable"),
    "reason": text("Why not usable"),
    "display_name": text("Model", help="From the file, or the id the endpoint serves"),
    "architecture": text("Architecture"),
    "size_label": text("Size"),
    "quantization": text("Quantization"),
    "context_length": st.column_config.NumberColumn("Context (tokens)"),
    "has_chat_template": st.column_config.CheckboxColumn(
        "Chat template", help="Without one it is a base model: it continues text."
    ),
    "file_size_mb": st.column_config.NumberColumn("File size (MB)", format="%.1f"),
    "sha256": text("SHA-256"),
}


def label_format(models: Sequence[ModelInfo]) -> Callable[[str], str]:
    """A selector's format_func for model names: each through model_label."""
    leaving = {m.name for m in models if m.leaves_machine}
    return lambda name: model_label(name, name in leaving)


def _served_by(m: ModelInfo) -> str:
    if m.endpoint is not None:
        return f"endpoint {m.endpoint.name}"
    return "endpoint (not valid)" if str(m.path).startswith("endpoint:") else "file"


def model_table(models: Sequence[ModelInfo]) -> None:
    table = pd.DataFrame([model_row(m) for m in models])
    table["name"] = [model_label(m.name, m.leaves_machine) for m in models]
    table["served_by"] = [_served_by(m) for m in models]
    table["reason"] = table.reason.fillna("")
    st.dataframe(
        table[list(MODEL_COLUMNS)], hide_index=True, width="stretch", column_config=MODEL_COLUMNS
    )


def other_files(others: Sequence[SkippedPath]) -> None:
    """What else is in the models folder and why it is not a model, folded away: a README
    is no problem, but a model file put in a subfolder should not vanish without a word."""
    if not others:
        return
    with st.expander(f"Other files in the models folder ({len(others)})"):
        table = pd.DataFrame(
            {"name": [o.name for o in others], "reason": [o.reason for o in others]}
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={"name": text("Name"), "reason": text("Why it is not a model")},
        )
