"""Wiring shared by the CLI and the dashboard: settings -> models, backends and the store.

The dashboard wraps load_backend in st.cache_resource; the CLI calls it directly.
"""

from __future__ import annotations

import os

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

        return FakeBackend(info=info, delay_s=cfg.fake_delay_s)
    return LlamaBackend(info, n_ctx=cfg.n_ctx, threads=cfg.threads)


def load_backend(name: str, cfg: Settings | None = None) -> Backend:
    cfg = cfg or settings()
    return open_backend(resolve(name, list_models(cfg)), cfg)


class BackendPool:
    """Loads each model once per process; a model that also judges is shared, not reloaded."""

    def __init__(self, cfg: Settings | None = None):
        self.cfg = cfg or settings()
        self.models = list_models(self.cfg)
        self.loaded: dict[str, Backend] = {}

    def info(self, name: str) -> ModelInfo:
        return resolve(name, self.models)

    def __call__(self, name: str) -> Backend:
        info = self.info(name)
        if info.name not in self.loaded:
            self.loaded[info.name] = open_backend(info, self.cfg)
        return self.loaded[info.name]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
