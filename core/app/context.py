"""Wiring shared by the CLI, the pages and the worker: settings -> models, backends, store.

The dashboard wraps open_backend in st.cache_resource; the CLI and the worker use a pool.
Tests swap the backend by setting PERFICS_BACKEND=fake, or by replacing open_backend here.
"""

from __future__ import annotations

from core.config import Settings, get_settings
from core.engine import Backend, loader, registry
from core.engine.registry import resolve
from core.store import Store
from core.types import ModelInfo, SkippedPath


def settings() -> Settings:
    return get_settings()


def store(cfg: Settings | None = None) -> Store:
    cfg = cfg or settings()
    return Store(cfg.db, lock_timeout_s=cfg.lock_timeout_s)


def list_models(cfg: Settings | None = None) -> list[ModelInfo]:
    return loader.list_models(cfg or settings())


def other_model_paths(cfg: Settings | None = None) -> list[SkippedPath]:
    """What else is in the models folder, each with the reason it is not a model."""
    return registry.other_paths((cfg or settings()).models_dir)


def current_file(info: ModelInfo, cfg: Settings | None = None) -> ModelInfo:
    """The model file hashed in full before work reads it outside a backend (training);
    open_backend does the same. The fake backend reads no file."""
    cfg = cfg or settings()
    return info if cfg.backend == "fake" else registry.current_file(info, cfg.cache_dir)


def open_backend(info: ModelInfo, cfg: Settings | None = None) -> Backend:
    return loader.open_backend(info, cfg or settings())


def load_backend(name: str, cfg: Settings | None = None) -> Backend:
    cfg = cfg or settings()
    return open_backend(resolve(name, list_models(cfg)), cfg)


def backend_pool(cfg: Settings | None = None) -> loader.BackendPool:
    """Each model loaded once for the whole job; goes through open_backend above."""
    return loader.BackendPool(cfg or settings(), opener=lambda info, c: open_backend(info, c))
