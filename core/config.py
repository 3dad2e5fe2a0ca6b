"""Paths and settings, read from PERFICS_* environment variables with sensible defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import InvalidRequest


def _default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFICS_", extra="ignore")

    models_dir: Path = Path("models")
    db: Path = Path("data/perfics.duckdb")
    cache_dir: Path = Path("data/cache")
    threads: int = Field(default_factory=_default_threads, ge=1, le=256)
    n_ctx: int = Field(default=4096, ge=256, le=131072)
    # "llama" runs real GGUF models; "fake" is the deterministic backend used by logic tests.
    backend: str = Field(default="llama", pattern="^(llama|fake)$")
    # Seconds the fake backend sleeps per call, so tests can interrupt a run part-way.
    fake_delay_s: float = Field(default=0.0, ge=0)
    # How long a writer waits for another process to release the DuckDB file lock.
    lock_timeout_s: float = Field(default=10.0, ge=0)
    # OpenAI-compatible endpoints the user declared (core/engine/endpoint_config.py). Unset,
    # it is endpoints.toml beside the store, in the data folder.
    endpoints_file: Path | None = None

    @property
    def endpoints_path(self) -> Path:
        return self.endpoints_file or self.db.parent / "endpoints.toml"


def get_settings() -> Settings:
    """Fresh settings each call, so a changed environment (tests, a new shell) takes effect."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"PERFICS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidRequest(f"Invalid setting: {problems}") from None
