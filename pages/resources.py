"""The one place where the dashboard caches loaded models and the store handle.

The Store object holds a path, not a connection: each operation opens and closes its own,
so a `perfics run` in a terminal can write between our reruns.
"""

from __future__ import annotations

import streamlit as st

from core import session
from core.engine import Backend
from core.models import resolve
from core.records import ModelInfo
from core.store import Store


@st.cache_data(ttl=30, show_spinner="Scanning models…")
def model_list() -> list[ModelInfo]:
    return session.list_models()


@st.cache_resource(max_entries=3, show_spinner="Loading model…")
def backend(name: str, sha256: str | None) -> Backend:
    # sha256 is part of the cache key so a replaced file is reloaded.
    return session.open_backend(resolve(name, model_list()))


@st.cache_resource
def store(db_path: str) -> Store:
    return session.store()


def current_store() -> Store:
    return store(str(session.settings().db))
