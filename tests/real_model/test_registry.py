import pytest

from core.engine import registry
from core.errors import AmbiguousModel, ModelNotFound
from core.types import ModelInfo
from tests.support import GEMMA, MODELS_DIR, SMOLLM2


def test_default_models_metadata(real_models):
    by_name = {m.name: m for m in real_models}
    smol = by_name[SMOLLM2]
    assert smol.usable and smol.reason is None
    assert (smol.architecture, smol.size_label, smol.quantization) == ("llama", "135M", "Q4_1")
    assert smol.context_length == 8192
    assert smol.has_chat_template
    assert smol.file_size == (MODELS_DIR / f"{SMOLLM2}.gguf").stat().st_size
    assert smol.sha256 == registry.sha256_file(smol.path)
    gemma = by_name[GEMMA]
    assert (gemma.architecture, gemma.quantization) == ("gemma3", "Q4_K_M")
    assert not gemma.has_chat_template


def test_broken_files_are_listed_unusable_with_reasons(models_dir_with_junk, tmp_path):
    found = {m.name: m for m in registry.discover(models_dir_with_junk, tmp_path / "cache")}
    assert set(found) == {SMOLLM2, "empty", "not-a-model", "truncated-header", "truncated-body"}
    assert found[SMOLLM2].usable
    assert found["empty"].reason == "empty file"
    assert "not a GGUF file" in found["not-a-model"].reason
    assert "key-value" in found["truncated-header"].reason
    assert "not within the file bounds" in found["truncated-body"].reason
    for name in ("empty", "not-a-model", "truncated-header", "truncated-body"):
        assert not found[name].usable and found[name].sha256 is None


def test_sha256_is_computed_once_and_cached(models_dir_with_junk, tmp_path, monkeypatch):
    calls = []
    real_hash = registry.sha256_file
    monkeypatch.setattr(registry, "sha256_file", lambda p: calls.append(p) or real_hash(p))
    first = registry.discover(models_dir_with_junk, tmp_path / "cache")
    assert len(calls) == 1  # only the one usable file is hashed
    second = registry.discover(models_dir_with_junk, tmp_path / "cache")
    assert len(calls) == 1
    assert [m.sha256 for m in first] == [m.sha256 for m in second]


def test_cache_notices_a_replaced_file(models_dir_with_junk, tmp_path):
    cache = tmp_path / "cache"
    before = {m.name: m for m in registry.discover(models_dir_with_junk, cache)}
    assert not before["empty"].usable
    (models_dir_with_junk / "empty.gguf").write_text("still not a model, but longer now")
    after = {m.name: m for m in registry.discover(models_dir_with_junk, cache)}
    assert "not a GGUF file" in after["empty"].reason


def test_missing_folder_gives_empty_list(tmp_path):
    assert registry.discover(tmp_path / "nowhere") == []


def _info(name: str, usable: bool = True) -> ModelInfo:
    return ModelInfo(name=name, path=MODELS_DIR / f"{name}.gguf", file_size=1, usable=usable)


def test_resolve_by_exact_name_or_unique_prefix():
    models = [
        _info("SmolLM2-135M"),
        _info("SmolLM2-360M"),
        _info("gemma-3"),
        _info("broken", False),
    ]
    assert registry.resolve("gemma", models).name == "gemma-3"
    assert registry.resolve("smollm2-135", models).name == "SmolLM2-135M"
    assert registry.resolve("SmolLM2-360M", models).name == "SmolLM2-360M"
    with pytest.raises(AmbiguousModel):
        registry.resolve("SmolLM2", models)
    with pytest.raises(ModelNotFound) as err:
        registry.resolve("broken", models)
    assert "gemma-3" in str(err.value) and "broken" not in err.value.available


def test_default_model_prefers_the_embedded_instruct_model(real_models):
    assert registry.default_model(real_models).name == SMOLLM2
    assert registry.default_model([_info("x", usable=False)]) is None
