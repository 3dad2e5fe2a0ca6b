"""From settings to usable backends: which models exist and how to load one.

The dashboard caches open_backend in st.cache_resource; the CLI and the worker use a
BackendPool so that a model that also judges is loaded once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable

from core.config import Settings
from core.engine.backend import Backend
from core.engine.registry import discover, resolve
from core.types import ModelInfo


def list_models(cfg: Settings) -> list[ModelInfo]:
    if cfg.backend == "fake":
        from core.engine.fake import FAKE_INFO

        return [FAKE_INFO] + discover(cfg.models_dir, cfg.cache_dir)
    return discover(cfg.models_dir, cfg.cache_dir)


def open_backend(info: ModelInfo, cfg: Settings) -> Backend:
    if cfg.backend == "fake":
        from core.engine.fake import FakeBackend

        return FakeBackend(info=info, delay_s=cfg.fake_delay_s)
    from core.engine.llama import LlamaBackend

    return LlamaBackend(info, n_ctx=cfg.n_ctx, threads=cfg.threads)


class BackendPool:
    """Loads each model once per process; a model that also judges is shared, not reloaded."""

    def __init__(
        self, cfg: Settings, opener: Callable[[ModelInfo, Settings], Backend] = open_backend
    ):
        self.cfg = cfg
        self.models = list_models(cfg)
        self.opener = opener
        self.loaded: dict[str, Backend] = {}

    def info(self, name: str) -> ModelInfo:
        return resolve(name, self.models)

    def __call__(self, name: str) -> Backend:
        info = self.info(name)
        if info.name not in self.loaded:
            self.loaded[info.name] = self.opener(info, self.cfg)
        return self.loaded[info.name]
