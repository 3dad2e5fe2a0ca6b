"""The one place where the dashboard caches model scans and loaded models.

No database connection is cached: the store opens one per operation, so a `perfics run` in a
terminal can write between our reruns. Cache keys include the settings they depend on, so a
changed PERFICS_* variable takes effect without a restart.
"""

from __future__ import annotations

import streamlit as st

from core.app import context
from core.app.ranking import measurements
from core.config import Settings
from core.types import ModelInfo, SkippedPath


@st.cache_data(ttl=30, show_spinner="Scanning models…")
def _scan(
    models_dir: str, cache_dir: str, backend_kind: str, endpoints: str, endpoints_version: str
) -> list[ModelInfo]:
    return context.list_models()


def model_list() -> list[ModelInfo]:
    """GGUF files and endpoints; an endpoints.toml changed anywhere (this page, the CLI, an
    editor) is read again at once, since its modification time is part of the key."""
    cfg = context.settings()
    try:
        stat = cfg.endpoints_path.stat()  # each save is a new file: a new inode
        version = f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        version = ""
    return _scan(
        str(cfg.models_dir), str(cfg.cache_dir), cfg.backend, str(cfg.endpoints_path), version
    )


@st.cache_data(ttl=30, show_spinner=False)
def _other_files(models_dir: str) -> list[SkippedPath]:
    return context.other_model_paths()


def other_model_files() -> list[SkippedPath]:
    """The models folder's other paths, each with the reason it is not a model."""
    return _other_files(str(context.settings().models_dir))


def usable_models() -> list[ModelInfo]:
    return [m for m in model_list() if m.usable]


def rescan() -> None:
    _scan.clear()
    _other_files.clear()


@st.cache_resource(max_entries=3, show_spinner="Loading model…")
def _backend(info: ModelInfo, backend_kind: str, n_ctx: int, threads: int):
    return context.open_backend(info, Settings(backend=backend_kind, n_ctx=n_ctx, threads=threads))


def backend(info: ModelInfo):
    """The loaded model, shared by every session of this dashboard."""
    cfg = context.settings()
    return _backend(info, cfg.backend, cfg.n_ctx, cfg.threads)


@st.cache_data(ttl=15, show_spinner="Reading measurements…")
def tradeoff_measurements(db: str, run_id: str | None):
    """The ranking's SQL aggregates; cached briefly so moving a weight slider only re-ranks
    in memory instead of querying again. Keyed on the DB path and the run."""
    return measurements(run_id)


def cached_measurements(run_id: str | None):
    return tradeoff_measurements(str(context.settings().db), run_id)
