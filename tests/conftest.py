"""Fixtures shared by every test folder: an isolated store per test, the real default models,
the dashboard in AppTest, and stored benchmark runs on the fake backend."""

import os

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app import context
from core.engine.registry import discover, resolve
from core.store import Store
from tests.support import GEMMA, MODELS_DIR, ROOT, SMOLLM2, finished_run, make_contrasting_run


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own database and cache; real models are shared read-only."""
    monkeypatch.setenv("PERFICS_DB", str(tmp_path / "db" / "perfics.duckdb"))
    monkeypatch.setenv("PERFICS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("PERFICS_THREADS", "2")
    monkeypatch.delenv("PERFICS_BACKEND", raising=False)
    monkeypatch.delenv("PERFICS_ENDPOINTS_FILE", raising=False)  # endpoints.toml beside the DB
    # Streamlit's caches live for the whole process; a test must not see another's models.
    st.cache_data.clear()
    st.cache_resource.clear()
    return tmp_path


@pytest.fixture
def store() -> Store:
    """The store every use case in this test writes to (PERFICS_DB)."""
    return context.store()


@pytest.fixture
def fake_mode(monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")


@pytest.fixture
def open_page():
    def open_page(path: str | None = None) -> AppTest:
        """The dashboard in AppTest, switched to `path` (the default page when None)."""
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        if path:
            at.switch_page(path).run()
        assert not at.exception, at.exception
        return at

    return open_page


@pytest.fixture
def judged_run(store) -> str:
    """A finished, judged benchmark run of both fake models on three questions."""
    return finished_run(store)


@pytest.fixture
def contrasting_run(store) -> str:
    return make_contrasting_run(store)


@pytest.fixture(scope="session")
def real_models():
    models = discover(MODELS_DIR)
    names = {m.name for m in models if m.usable}
    missing = {SMOLLM2, GEMMA} - names
    assert not missing, f"default models missing from {MODELS_DIR}: {missing}; run `make models`"
    return models


@pytest.fixture(scope="session")
def smollm2(real_models):
    from core.engine.llama import LlamaBackend

    backend = LlamaBackend(resolve(SMOLLM2, real_models), n_ctx=2048, threads=2)
    yield backend
    backend.close()


@pytest.fixture
def make_openai_stub():
    """Starts OpenAI-compatible stub servers on 127.0.0.1 (tests/openai_stub.py) with the
    given options, stopped after the test."""
    from tests.openai_stub import OpenAIStub

    started = []

    def make(**options) -> OpenAIStub:
        started.append(OpenAIStub(**options).start())
        return started[-1]

    yield make
    for stub in started:
        stub.stop()


@pytest.fixture
def openai_stub(make_openai_stub):
    """One started stub server with default options; its `url` ends in /v1."""
    return make_openai_stub()


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


@pytest.fixture(scope="session")
def adapter_models_dir(tmp_path_factory):
    """A models folder with the real SmolLM2 (linked) and two synthetic LoRA adapters for it
    (tests/lora_support.py): "tuned", whose random lora_b changes greedy answers, and "zero",
    whose lora_b is all zero, so it must answer exactly as SmolLM2 does. Shared: read only."""
    from tests.lora_support import SMOLLM2_FILE, linked_models, write_adapter

    folder = linked_models(tmp_path_factory.mktemp("adapters") / "models", SMOLLM2_FILE)
    write_adapter(folder, "tuned", b_scale=0.5)
    write_adapter(folder, "zero", b_scale=0.0)
    return folder


def pytest_collection_modifyitems(config, items):
    """Everything under real_model/ and browser/ carries its marker, so `-m "not real_model"`
    selects the fast logic tests."""
    for item in items:
        parts = set(os.path.normpath(str(item.fspath)).split(os.sep))
        if "real_model" in parts:
            item.add_marker(pytest.mark.real_model)
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def llama_server(tmp_path):
    """`python -m llama_cpp.server` serving SmolLM2 on 127.0.0.1 and a free port."""
    from tests.server_support import LocalServer

    server = LocalServer(tmp_path).start()
    yield server
    server.kill()
