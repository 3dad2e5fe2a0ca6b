"""Column names for the Models page's table of GGUF files."""

from __future__ import annotations

import streamlit as st

text = st.column_config.TextColumn
MODEL_COLUMNS = {
    "name": text("File"),
    "usable": st.column_config.CheckboxColumn("Usable"),
    "reason": text("Why not usable"),
    "display_name": text("Model"),
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
