"""LoRA adapters in the registry without loading a model: how an adapter folder becomes a
"<base>+<adapter>" model or an unusable entry with its reason, its identity, the cache, how
names resolve, and the places that must not take an adapter for a plain model file."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.app import context, quantization
from core.app.adapters import adapter_table
from core.engine import adapters
from core.engine.adapters import list_adapters, pair_sha256, with_adapters
from core.engine.fake import FAKE_INFO, FakeBackend
from core.engine.file_cache import FileCache, sha256_file
from core.engine.gguf_tensors import header_strings
from core.engine.registry import as_row, resolve
from core.errors import AmbiguousModel, InvalidRequest, ModelNotFound
from core.evaluation.benchmark import check_models
from core.evaluation.judge import default_judge
from core.types import ModelInfo, ModelRef
from core.types.agreement import MetricValue
from core.types.finetune import ADAPTER_FILE, MANIFEST_FILE
from tests.lora_support import SMOLLM2_FILE, manifest_for, write_adapter, write_lora_gguf

BASE_SHA = "a" * 64
BASE = ModelInfo(
    name="base",
    path=SMOLLM2_FILE,  # its tensor shapes shape the adapters; the model is never loaded
    file_size=1000,
    usable=True,
    sha256=BASE_SHA,
    display_name="Base model",
    architecture="llama",
    size_label="135M",
    quantization="Q4_1",
    context_length=8192,
    has_chat_template=True,
)
OTHER = replace(BASE, name="other", sha256="b" * 64, display_name=None, has_chat_template=False)


def _adapter(models_dir: Path, name: str, **changes) -> Path:
    manifest = manifest_for(name, "base", BASE_SHA, **changes.pop("manifest", {}))
    return write_adapter(models_dir, name, manifest=manifest, rank=2, **changes)


def _listed(models_dir: Path, models=(BASE, OTHER), cache_dir: Path | None = None):
    found = list_adapters(models_dir, list(models), FileCache(cache_dir))
    return {m.name: m for m in found}


def test_an_adapter_is_listed_as_its_base_with_the_adapter_applied(tmp_path):
    folder = _adapter(tmp_path, "tuned")
    info = _listed(tmp_path)["base+tuned"]
    file = folder / ADAPTER_FILE
    assert info.usable and info.reason is None
    assert (info.path, info.adapter_path) == (SMOLLM2_FILE, file)
    assert (info.base_name, info.base_sha256) == ("base", BASE_SHA)
    assert info.adapter_sha256 == sha256_file(file)
    assert info.file_size == BASE.file_size + file.stat().st_size
    assert info.display_name == "Base model + LoRA tuned"
    # Everything else is the base's.
    assert (info.architecture, info.quantization, info.context_length) == ("llama", "Q4_1", 8192)
    assert info.has_chat_template and info.is_adapter and not BASE.is_adapter


def test_a_renamed_base_is_found_by_its_content(tmp_path):
    _adapter(tmp_path, "tuned", manifest={"base_model": "old-name"})
    info = _listed(tmp_path)["base+tuned"]
    assert info.usable and info.base_name == "base"


def test_identity_is_the_hash_of_both_hashes_and_follows_either_file(tmp_path):
    folder = _adapter(tmp_path, "tuned")
    adapter_sha = sha256_file(folder / ADAPTER_FILE)
    expected = hashlib.sha256(f"{BASE_SHA}:{adapter_sha}".encode()).hexdigest()
    info = _listed(tmp_path)["base+tuned"]
    assert info.sha256 == pair_sha256(BASE_SHA, adapter_sha) == expected
    assert info.sha256 not in (BASE_SHA, adapter_sha)
    # Another base file with the same adapter, or another adapter on the same base: new ids.
    assert pair_sha256("c" * 64, adapter_sha) != info.sha256
    write_lora_gguf(folder / ADAPTER_FILE, rank=2, seed=1)
    changed = _listed(tmp_path)["base+tuned"]
    assert changed.adapter_sha256 == sha256_file(folder / ADAPTER_FILE) != adapter_sha
    assert changed.sha256 == pair_sha256(BASE_SHA, changed.adapter_sha256) != info.sha256


def test_a_changed_adapter_stops_a_run_from_resuming(tmp_path):
    folder = _adapter(tmp_path, "tuned")
    before = _listed(tmp_path)["base+tuned"]
    ref = ModelRef.of(before)
    check_models([ref], lambda name: FakeBackend(info=before))  # unchanged: goes on
    write_lora_gguf(folder / ADAPTER_FILE, rank=2, seed=7)
    after = _listed(tmp_path)["base+tuned"]
    with pytest.raises(InvalidRequest, match="not the file this run started with"):
        check_models([ref], lambda name: FakeBackend(info=after))


def test_the_adapter_file_is_hashed_once_and_again_when_it_changes(tmp_path, monkeypatch):
    folder = _adapter(tmp_path, "tuned")
    hashed = []
    monkeypatch.setattr(adapters, "sha256_file", lambda p: hashed.append(p) or sha256_file(p))

    def scan() -> ModelInfo:
        cache = FileCache(tmp_path / "cache")  # a new process would read it back like this
        found = list_adapters(tmp_path, [BASE, OTHER], cache)
        cache.save()
        return found[0]

    first, second = scan(), scan()
    assert hashed == [folder / ADAPTER_FILE]
    assert second == first
    write_lora_gguf(folder / ADAPTER_FILE, rank=4, seed=3)  # another size: the entry is stale
    third = scan()
    assert len(hashed) == 2 and third.sha256 != first.sha256


def _write_manifest(folder: Path, text: str) -> None:
    (folder / MANIFEST_FILE).write_text(text)


def test_unusable_adapters_are_listed_with_their_reasons(tmp_path):
    _adapter(tmp_path, "no-base", manifest={"base_model": "gone", "base_sha256": "e" * 64})
    _adapter(tmp_path, "other-file", manifest={"base_model": "other", "base_sha256": "f" * 64})
    _adapter(tmp_path, "no-manifest")
    (tmp_path / "adapters" / "no-manifest" / MANIFEST_FILE).unlink()
    _write_manifest(_adapter(tmp_path, "bad-json"), "{not json")
    _write_manifest(_adapter(tmp_path, "not-object"), "[1, 2]")
    stored = manifest_for("x", "base", BASE_SHA).to_json()
    del stored["settings"]
    _write_manifest(_adapter(tmp_path, "no-settings"), json.dumps(stored))
    _write_manifest(_adapter(tmp_path, "future"), json.dumps({**stored, "format": 99}))
    (_adapter(tmp_path, "no-file") / ADAPTER_FILE).unlink()
    (_adapter(tmp_path, "text-file") / ADAPTER_FILE).write_text("hello")
    (_adapter(tmp_path, "cut") / ADAPTER_FILE).write_bytes(b"GGUF\x03\x00\x00\x00")
    _adapter(tmp_path, "gemma-arch", arch="gemma3")
    _adapter(tmp_path, "bad+name")
    found = _listed(tmp_path)
    reasons = {name: m.reason for name, m in found.items()}
    assert reasons == {
        "gone+no-base": f"its base model gone (SHA-256 {'e' * 12}…) is not in the models folder",
        "other+other-file": (
            f"it was trained on other (SHA-256 {'f' * 12}…), and the file of that name in the "
            "models folder is a different or unusable file"
        ),
        "adapters/no-manifest": "manifest.json is missing",
        "adapters/bad-json": reasons["adapters/bad-json"],
        "adapters/not-object": "manifest.json is not a JSON object",
        "adapters/no-settings": "manifest.json lacks the field 'settings'",
        "adapters/future": "manifest.json has format 99; this version reads format 1",
        "base+no-file": "adapter.gguf is missing",
        "base+text-file": "adapter.gguf: not a GGUF file (missing GGUF magic bytes)",
        "base+cut": "adapter.gguf: the GGUF header ends early",
        "base+gemma-arch": "adapter.gguf is for architecture gemma3, but its base base is llama",
        "adapters/bad+name": (
            "the folder's name may only hold letters, digits, '.', '_' and '-'; rename it"
        ),
    }
    assert reasons["adapters/bad-json"].startswith("manifest.json cannot be read: ")
    assert not any(m.usable for m in found.values())
    assert all(m.is_adapter and m.sha256 is None for m in found.values())


def test_a_gguf_that_is_not_a_lora_adapter_is_refused(tmp_path):
    import gguf
    import numpy as np

    for name, kind, adapter_type in (("model", None, None), ("ia3", "adapter", "ia3")):
        folder = _adapter(tmp_path, name)
        writer = gguf.GGUFWriter(folder / ADAPTER_FILE, "llama")
        if kind:
            writer.add_type(kind)
            writer.add_string(gguf.Keys.Adapter.TYPE, adapter_type)
        writer.add_tensor("blk.0.attn_q.weight", np.zeros((2, 2), np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    found = _listed(tmp_path)
    assert found["base+model"].reason == "adapter.gguf: it is a GGUF model file, not an adapter"
    assert found["base+ia3"].reason == (
        "adapter.gguf: it is a 'ia3' adapter; only LoRA is supported"
    )


def test_adapters_follow_their_base_and_unusable_ones_come_last(tmp_path):
    _adapter(tmp_path, "b-second")
    _adapter(tmp_path, "A-first")
    _adapter(tmp_path, "on-other", manifest={"base_model": "other", "base_sha256": "b" * 64})
    _adapter(tmp_path, "orphan", manifest={"base_model": "gone", "base_sha256": "e" * 64})
    (tmp_path / "adapters" / ".next.partial-run-2").mkdir()  # being written: not listed yet
    unusable = replace(OTHER, name="broken", usable=False, sha256=None, reason="bad")
    models = [BASE, unusable, OTHER]
    listed = with_adapters(models, list_adapters(tmp_path, models, FileCache(None)))
    assert [m.name for m in listed] == [
        "base",
        "base+A-first",
        "base+b-second",
        "broken",
        "other",
        "other+on-other",
        "gone+orphan",
    ]
    assert list_adapters(tmp_path / "nowhere", models) == []


def test_names_resolve_to_the_base_unless_the_adapter_is_asked_for(tmp_path):
    _adapter(tmp_path, "tuned")
    _adapter(tmp_path, "zero")
    models = with_adapters([BASE, OTHER], list_adapters(tmp_path, [BASE, OTHER]))
    assert resolve("base", models).name == "base"  # exact
    assert resolve("ba", models).name == "base"  # a prefix of the base and its adapters
    assert resolve("base+tuned", models).adapter_path is not None
    assert resolve("BASE+T", models).name == "base+tuned"
    with pytest.raises(AmbiguousModel):
        resolve("base+", models)
    broken = replace(models[1], usable=False, reason="bad")
    with pytest.raises(ModelNotFound) as err:
        resolve("base+tuned", [BASE, broken])
    assert err.value.available == ["base"]


def test_a_json_row_names_the_adapter_file(tmp_path):
    folder = _adapter(tmp_path, "tuned")
    row = json.loads(json.dumps(as_row(_listed(tmp_path)["base+tuned"])))
    assert row["adapter_path"] == str(folder / ADAPTER_FILE)
    assert row["base_name"] == "base" and row["path"] == str(SMOLLM2_FILE)
    assert json.loads(json.dumps(as_row(BASE)))["adapter_path"] is None


def test_the_auto_judge_is_never_an_adapter(tmp_path):
    _adapter(tmp_path, "tuned")
    models = with_adapters([BASE], list_adapters(tmp_path, [BASE]))
    assert models[1].file_size > BASE.file_size  # the bigger file, yet not the judge
    assert default_judge(models) == BASE


def test_quantizing_an_adapter_model_is_refused_clearly(tmp_path, monkeypatch):
    _adapter(tmp_path, "tuned")
    models = with_adapters([BASE], list_adapters(tmp_path, [BASE]))
    monkeypatch.setattr(context, "list_models", lambda cfg=None: models)
    with pytest.raises(InvalidRequest, match="llama.cpp quantizes model files, not adapters"):
        quantization.quantize_model("base+tuned", ("Q8_0",))
    assert quantization.quantizable(models) == [BASE]


def test_the_models_page_table_reads_each_manifest(tmp_path):
    metrics = {
        "accuracy": MetricValue(0.6, 0.5, 0.7, 40),
        "kappa": MetricValue.undefined(40, "one label only"),
    }
    _adapter(tmp_path, "tuned", manifest={"metrics": metrics, "train_size": 77})
    _adapter(tmp_path, "orphan", manifest={"base_model": "gone", "base_sha256": "e" * 64})
    _write_manifest(_adapter(tmp_path, "broken"), "{")
    models = with_adapters([FAKE_INFO, BASE], list_adapters(tmp_path, [FAKE_INFO, BASE]))
    table = adapter_table(models).set_index("name")
    assert list(table.index) == ["base+tuned", "adapters/broken", "gone+orphan"]
    tuned = table.loc["base+tuned"]
    assert (tuned.base, tuned.dataset, tuned.train_size, tuned.validation_size) == (
        "base",
        "bills",
        77,
        13,
    )
    assert (tuned.validation_loss, tuned["rank"], tuned.usable) == (0.9, 8, True)
    assert tuned.metrics == "accuracy 0.60 [0.50–0.70] (n=40); kappa –"
    assert table.loc["gone+orphan", "base"] == "gone"
    assert not table.loc["gone+orphan", "usable"] and table.loc["gone+orphan", "reason"]
    assert table.loc["adapters/broken", "reason"].startswith("manifest.json cannot be read")
    assert adapter_table([FAKE_INFO, BASE]).empty


def test_header_strings_reads_string_keys_and_refuses_a_corrupt_length(tmp_path):
    header = header_strings(SMOLLM2_FILE)
    assert header["general.architecture"] == "llama" and header["general.type"] == "model"
    assert "llama.block_count" not in header  # a number, skipped
    corrupt = tmp_path / "corrupt.gguf"
    # GGUF v3, no tensors, one key whose length claims 2**40 bytes.
    corrupt.write_bytes(
        b"GGUF"
        + (3).to_bytes(4, "little")
        + (0).to_bytes(8, "little")
        + (1).to_bytes(8, "little")
        + (2**40).to_bytes(8, "little")
    )
    with pytest.raises(ValueError, match="corrupt file"):
        header_strings(corrupt)
