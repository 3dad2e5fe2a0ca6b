"""The Fine-tune page's adapters: the Models page's table of them (adapter_table) and deleting
one, confirmed first, as a run is deleted."""

from __future__ import annotations

import streamlit as st

from core.app import finetune
from core.errors import PerficsError
from pages.components import resources
from pages.components.adapter_table import adapter_section
from pages.components.text import escape


def finetune_adapters() -> None:
    if notice := st.session_state.pop("ft_adapter_notice", None):
        st.info(notice)
    models = resources.model_list()
    # Folder names, usable or not: a broken adapter can be deleted too.
    folders = sorted({m.adapter_path.parent.name for m in models if m.is_adapter})
    if not folders:
        st.subheader("LoRA adapters")
        st.caption("No adapter yet: a finished fine-tuning run writes one.")
        return
    adapter_section(models)
    c1, c2, c3 = st.columns([3, 1, 1])
    name = c1.selectbox("Adapter", folders, key="ft_adapter_pick")
    confirm = c2.checkbox("Confirm delete", key=f"ft_adapter_confirm_{name}")
    if c3.button("Delete adapter", key="ft_adapter_delete", disabled=not confirm):
        try:
            finetune.delete_adapter(name)
        except PerficsError as exc:
            st.error(str(exc))
            return
        resources.rescan()
        st.session_state["ft_adapter_notice"] = f"Deleted adapter {escape(name)}."
        st.rerun()
