"""Wiring shared by the CLI and the dashboard: settings -> models, backends and the store.

The dashboard wraps load_backend in st.cache_resource; the CLI calls it directly.
"""

from __future__ import annotations

from core.config import Settings, get_settings
from core.engine import Backend, LlamaBackend
from core.models import discover, resolve
from core.records import ModelInfo
from core.store import Store


def settings() -> Settings:
    return get_settings()


def list_models(cfg: Settings | None = None) -> list[ModelInfo]:
    cfg = cfg or settings()
    if cfg.backend == "fake":
        from core.fake_backend import FAKE_INFO

        return [FAKE_INFO] + discover(cfg.models_dir, cfg.cache_dir)
    return discover(cfg.models_dir, cfg.cache_dir)


def store(cfg: Settings | None = None) -> Store:
    cfg = cfg or settings()
    return Store(cfg.db, lock_timeout_s=cfg.lock_timeout_s)


def open_backend(info: ModelInfo, cfg: Settings | None = None) -> Backend:
    cfg = cfg or settings()
    if cfg.backend == "fake":
        from core.fake_backend import FakeBackend

        return FakeBackend(info=info)
    return LlamaBackend(info, n_ctx=cfg.n_ctx, threads=cfg.threads)


def load_backend(name: str, cfg: Settings | None = None) -> Backend:
    cfg = cfg or settings()
    return open_backend(resolve(name, list_models(cfg)), cfg)
