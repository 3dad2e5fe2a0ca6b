import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.models import discover, resolve

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1"
GEMMA = "gemma-3-270m-q4_k_m"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own database and cache; real models are shared read-only."""
    monkeypatch.setenv("PERFICS_DB", str(tmp_path / "db" / "perfics.duckdb"))
    monkeypatch.setenv("PERFICS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("PERFICS_THREADS", "2")
    monkeypatch.delenv("PERFICS_BACKEND", raising=False)
    # Streamlit's caches live for the whole process; a test must not see another's models.
    st.cache_data.clear()
    st.cache_resource.clear()
    return tmp_path


def open_page(path: str | None = None) -> AppTest:
    """The dashboard in AppTest, switched to `path` (the default page when None)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    if path:
        at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="session")
def real_models():
    models = discover(MODELS_DIR)
    names = {m.name for m in models if m.usable}
    missing = {SMOLLM2, GEMMA} - names
    assert not missing, f"default models missing from {MODELS_DIR}: {missing}; run `make models`"
    return models


@pytest.fixture(scope="session")
def smollm2(real_models):
    from core.engine import LlamaBackend

    backend = LlamaBackend(resolve(SMOLLM2, real_models), n_ctx=2048, threads=2)
    yield backend
    backend.close()


@pytest.fixture
def models_dir_with_junk(tmp_path):
    """A models folder with the real SmolLM2 (linked) and four kinds of broken file."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / f"{SMOLLM2}.gguf").symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    (folder / "empty.gguf").write_bytes(b"")
    (folder / "not-a-model.gguf").write_text("hello, I am a text file")
    real = (MODELS_DIR / f"{SMOLLM2}.gguf").read_bytes()
    (folder / "truncated-header.gguf").write_bytes(real[:4096])
    (folder / "truncated-body.gguf").write_bytes(real[: len(real) - 5_000_000])
    (folder / "notes.txt").write_text("not a gguf, ignored")
    return folder


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )


def chromium_path() -> str | None:
    return shutil.which("chromium")
