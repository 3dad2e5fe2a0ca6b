"""From settings to usable backends: which models exist and how to load one.

The dashboard caches open_backend in st.cache_resource; the CLI and the worker use a
BackendPool so that a model that also judges is loaded once, not twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from core.config import Settings
from core.engine.backend import Backend
from core.engine.endpoint_config import endpoint_model_info, load_endpoints
from core.engine.registry import current_file, discover, resolve
from core.types import ModelInfo


def endpoint_models(path: Path, local: list[ModelInfo]) -> list[ModelInfo]:
    """The endpoints declared in `path` as models, in file order, then one unusable entry per
    problem (so the Models page says what is wrong). An endpoint named like a local model is
    unusable too: a name must say which of the two a run used."""
    listing = load_endpoints(path)
    taken = {m.name.lower() for m in local}
    models = []
    for config in listing.configs:
        info = endpoint_model_info(config)
        if config.name.lower() in taken:
            reason = (
                f"a model file in the models folder is also named {config.name}; rename the "
                f"endpoint in {path.name}"
            )
            info = replace(info, usable=False, reason=reason)
        models.append(info)
    for problem in listing.problems:
        label = problem.label
        reason = f"{path.name}: {problem.reason}"
        models.append(
            ModelInfo(
                name=label, path=Path(f"endpoint:{label}"), file_size=0, usable=False, reason=reason
            )
        )
    return models


def list_models(cfg: Settings) -> list[ModelInfo]:
    """The GGUF files (with the fake model first under PERFICS_BACKEND=fake), then the
    endpoints declared in endpoints.toml."""
    local = discover(cfg.models_dir, cfg.cache_dir)
    if cfg.backend == "fake":
        from core.engine.fake import FAKE_INFO

        local = [FAKE_INFO, *local]
    return local + endpoint_models(cfg.endpoints_path, local)


def open_backend(info: ModelInfo, cfg: Settings) -> Backend:
    """The model loaded for work. A model file is hashed in full first (current_file): what
    it generates is stored under the hash of the file that is loaded, never a stale one."""
    if info.is_endpoint:  # real HTTP even under PERFICS_BACKEND=fake: the server is real
        from core.engine.endpoint import EndpointBackend

        return EndpointBackend(info)
    if cfg.backend == "fake":
        from core.engine.fake import FakeBackend

        return FakeBackend(info=info, delay_s=cfg.fake_delay_s)
    from core.engine.llama import LlamaBackend

    return LlamaBackend(current_file(info, cfg.cache_dir), n_ctx=cfg.n_ctx, threads=cfg.threads)


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
