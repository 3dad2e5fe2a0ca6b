"""Problems every page says the same way: a domain error, and a models folder that holds no
models. Messages carry file paths and other programs' words (DuckDB's, the OS's): escaped,
they show exactly as written, so `my_store_v2.duckdb` keeps its underscores and a URL in
them does not become a link."""

from __future__ import annotations

import streamlit as st

from core.app.models_folder import models_folder_problem
from core.config import Settings
from core.errors import PerficsError
from pages.components.text import escape


def show_error(exc: PerficsError, where=st) -> None:
    """A domain error in an error box of `where` (st, a column, a container)."""
    where.error(escape(str(exc)))


def models_folder_notice(cfg: Settings) -> None:
    """For the sidebar of every page: a models folder that is missing, unreadable or empty."""
    if problem := models_folder_problem(cfg):
        st.warning(escape(problem))


NO_USABLE_MODELS = (
    "No usable models yet: copy .gguf files into the models folder (the sidebar shows where) "
    "and press Rescan models, or declare an endpoint on the Models page."
)
