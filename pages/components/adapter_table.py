"""The Models page's table of LoRA adapters: each "<base>+<adapter>" model with its manifest."""

from __future__ import annotations

import streamlit as st

from core.app.adapters import adapter_table
from core.types import ModelInfo

text = st.column_config.TextColumn
number = st.column_config.NumberColumn
ADAPTER_COLUMNS = {
    "name": text("Model", help="Choose it by this name anywhere a model is asked for."),
    "base": text("Base model"),
    "usable": st.column_config.CheckboxColumn("Usable"),
    "reason": text("Why not usable"),
    "dataset": text("Trained on"),
    "codebook": text("Codebook"),
    "train_size": number("Training texts"),
    "validation_size": number("Validation texts"),
    "rank": number("Rank"),
    "epochs": number("Epochs"),
    "final_train_loss": number("Final training loss", format="%.3f"),
    "validation_loss": number("Validation loss", format="%.3f"),
    "metrics": text("Held-out metrics (95 % interval)"),
    "created_at": text("Trained at"),
    "adapter_sha256": text("Adapter SHA-256"),
}


def adapter_section(models: list[ModelInfo]) -> None:
    """Nothing when the models folder has no adapters/ folder with anything in it."""
    table = adapter_table(models)
    if table.empty:
        return
    st.subheader("LoRA adapters")
    st.caption(
        "Fine-tuned adapters in the models folder's adapters/ folder. Each runs on top of its "
        "base model, wherever a model can be chosen, as base+adapter."
    )
    st.dataframe(table, hide_index=True, width="stretch", column_config=ADAPTER_COLUMNS)
