"""The one place where the dashboard caches model scans and loaded models.

No database connection is cached: the store opens one per operation, so a `perfics run` in a
terminal can write between our reruns. Cache keys include the settings they depend on, so a
changed PERFICS_* variable takes effect without a restart.
"""

from __future__ import annotations

import streamlit as st

from core import session
from core.config import Settings
from core.engine import Backend
from core.records import ModelInfo
from core.store import Store


@st.cache_data(ttl=30, show_spinner="Scanning models…")
def _scan(models_dir: str, cache_dir: str, backend_kind: str) -> list[ModelInfo]:
    return session.list_models()


def model_list() -> list[ModelInfo]:
    cfg = session.settings()
    return _scan(str(cfg.models_dir), str(cfg.cache_dir), cfg.backend)


def rescan() -> None:
    _scan.clear()


@st.cache_resource(max_entries=3, show_spinner="Loading model…")
def _backend(info: ModelInfo, backend_kind: str, n_ctx: int, threads: int) -> Backend:
    return session.open_backend(info, Settings(backend=backend_kind, n_ctx=n_ctx, threads=threads))


def backend(info: ModelInfo) -> Backend:
    cfg = session.settings()
    return _backend(info, cfg.backend, cfg.n_ctx, cfg.threads)


def settings():
    return session.settings()


def store() -> Store:
    return session.store()


@st.cache_data(ttl=15, show_spinner="Reading measurements…")
def tradeoff_measurements(db: str, run_id: str | None):
    """The Trade-offs page's SQL aggregates; cached briefly so moving a weight slider only
    re-ranks in memory instead of querying again. Keyed on the DB path and the run."""
    from core.aggregates import improvement_by_rounds, performance
    from core.tradeoffs import measure

    store = session.store()
    return (
        measure(store, run_id),
        performance(store, run_id, by_category=True),
        improvement_by_rounds(store),
    )
