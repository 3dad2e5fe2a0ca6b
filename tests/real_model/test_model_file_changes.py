"""A model file whose content changes under its name: the listing notices, and work is never
stored under the old SHA-256. The copy of SmolLM2 is changed in one weight byte (the file's
last byte, a 4-bit quant), so llama.cpp still loads it and it still answers."""

import json
import os
import shutil

import duckdb
import pytest

from core.app import context
from core.engine.file_cache import FileCache, sha256_file
from core.errors import InvalidRequest
from core.evaluation.benchmark import create_run, run_benchmark
from core.types import RunSpec, RunStatus, SamplerSettings
from tests.support import MODELS_DIR, SMOLLM2, run_cli

pytestmark = pytest.mark.real_model

GREEDY = ["--temperature", "0", "--seed", "7", "--max-tokens", "4", "--json"]


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A models folder holding a private copy of SmolLM2 named "copy"."""
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "copy.gguf"
    shutil.copyfile(MODELS_DIR / f"{SMOLLM2}.gguf", model)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
    return model


def _flip_last_byte(model):
    """Other content, same size, same file (inode)."""
    with model.open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0x01]))


def _listed_sha(name: str) -> str:
    return next(m.sha256 for m in context.list_models() if m.name == name)


def _stored_shas() -> list[str]:
    with duckdb.connect(os.environ["PERFICS_DB"], read_only=True) as con:
        return [r[0] for r in con.execute("SELECT model_sha256 FROM generations").fetchall()]


def _generate_sha(name: str) -> str:
    result = run_cli("generate", "--model", name, "--prompt", "Name a colour.", *GREEDY)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["model_sha256"]


def test_a_rewrite_keeping_size_and_mtime_is_stored_under_its_new_hash(copy):
    listed = run_cli("models", "--json")
    (old,) = [m["sha256"] for m in json.loads(listed.stdout)["models"] if m["name"] == "copy"]
    assert old == sha256_file(MODELS_DIR / f"{SMOLLM2}.gguf")
    before = copy.stat()
    _flip_last_byte(copy)
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = copy.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    new = sha256_file(copy)
    assert new != old

    assert _generate_sha("copy") == new
    assert _stored_shas() == [new]
    relisted = json.loads(run_cli("models", "--json").stdout)["models"]
    assert [m["sha256"] for m in relisted if m["name"] == "copy"] == [new]


def _plant_stale_entry(model, info) -> None:
    """The cache says `info` of the file as it is now: a change its stat key cannot see (a
    clock set back, a network file system), which only the full hash can catch."""
    cache = FileCache(context.settings().cache_dir)
    cache.put(model, model.stat(), info)
    cache.save()


def test_a_change_the_cache_cannot_see_is_caught_when_the_model_is_loaded(copy, store):
    (original,) = [m for m in context.list_models() if m.name == "copy"]
    spec = RunSpec(
        suite="builtin",
        models=(original,),
        rounds=1,
        limit=1,
        settings=SamplerSettings(temperature=0.0, max_tokens=8),
    )
    run_id = create_run(store, spec, "test")
    _flip_last_byte(copy)
    _plant_stale_entry(copy, original)
    assert _listed_sha("copy") == original.sha256  # the listing alone cannot tell

    with pytest.raises(InvalidRequest, match="not the file this run started with"):
        run_benchmark(store, run_id, context.backend_pool())
    assert store.runs.get(run_id).status == RunStatus.FAILED
    assert _stored_shas() == []
    new = sha256_file(copy)
    assert _listed_sha("copy") == new  # the load read the file again and mended the cache

    _plant_stale_entry(copy, original)
    assert _generate_sha("copy") == new
    assert _stored_shas() == [new]
