"""Synthetic LoRA adapters for tests: a GGUF adapter written with the gguf package, shaped for
a real base model's tensors, and the folder layout the registry reads
(<models>/adapters/<name>/adapter.gguf + manifest.json).

With b_scale 0 every lora_b is zero, so the adapter changes nothing and the model must answer
exactly as its base; with b_scale > 0 the weights change and so does a greedy answer.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from core.engine.file_cache import sha256_file
from core.types.agreement import MetricValue
from core.types.finetune import (
    ADAPTER_FILE,
    ADAPTERS_FOLDER,
    MANIFEST_FILE,
    AdapterManifest,
    LoraSettings,
)
from tests.support import GEMMA, MODELS_DIR, SMOLLM2

SMOLLM2_FILE = MODELS_DIR / f"{SMOLLM2}.gguf"
GEMMA_FILE = MODELS_DIR / f"{GEMMA}.gguf"
# The adapters of the adapter_models_dir fixture (tests/conftest.py), as the registry names them.
TUNED = f"{SMOLLM2}+tuned"
ZERO = f"{SMOLLM2}+zero"


@cache
def base_sha256(path: Path) -> str:
    return sha256_file(path)


@cache
def _base_shapes(base: Path) -> tuple[str, dict[str, tuple[int, int]]]:
    """The base's architecture and each 2-D weight's (inputs, outputs), read from its header
    directly (gguf.GGUFReader takes seconds over a 262k-token vocabulary)."""
    from core.engine.gguf_tensors import _read, _read_text, _skip_value

    arch, shapes = "", {}
    with base.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
        _read(fh, "<I")  # version
        n_tensors, n_kv = _read(fh, "<Q"), _read(fh, "<Q")
        for _ in range(n_kv):
            key, value_type = _read_text(fh), _read(fh, "<I")
            if key == "general.architecture":
                arch = _read_text(fh)
            else:
                _skip_value(fh, value_type)
        for _ in range(n_tensors):
            name = _read_text(fh)
            dims = [_read(fh, "<Q") for _ in range(_read(fh, "<I"))]
            fh.seek(4 + 8, 1)  # type id and data offset
            if len(dims) == 2:
                shapes[name] = (dims[0], dims[1])
    return arch, shapes


def write_lora_gguf(
    out: Path,
    base: Path = SMOLLM2_FILE,
    rank: int = 8,
    b_scale: float = 0.5,
    seed: int = 0,
    targets: tuple[str, ...] = ("attn_q", "attn_v"),
    alpha: float = 16.0,
    arch: str | None = None,
) -> Path:
    """A LoRA adapter for every block's `targets` weights of `base`: lora_a (rank, inputs) and
    lora_b (outputs, rank), seeded normal draws, lora_b scaled by b_scale (0: a no-op)."""
    import gguf

    base_arch, shapes = _base_shapes(base)
    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(out, arch or base_arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name in sorted(shapes):
        if name.split(".")[-2] not in targets or not name.startswith("blk."):
            continue
        inputs, outputs = shapes[name]
        lora_a = rng.normal(0.0, 1.0 / np.sqrt(inputs), (rank, inputs)).astype(np.float32)
        lora_b = (rng.normal(0.0, 1.0, (outputs, rank)) * b_scale).astype(np.float32)
        writer.add_tensor(f"{name}.lora_a", lora_a)
        writer.add_tensor(f"{name}.lora_b", lora_b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def manifest_for(name: str, base_name: str, base_sha: str, **changes) -> AdapterManifest:
    """A manifest as the trainer writes it, with plausible figures."""
    fields = dict(
        name=name,
        base_model=base_name,
        base_sha256=base_sha,
        architecture="llama",
        dataset="bills",
        codebook="cap",
        codebook_codes=("1", "2", "3"),
        data_hash="d" * 64,
        train_size=120,
        validation_size=13,
        settings=LoraSettings(),
        steps=30,
        tokens_trained=24_000,
        train_seconds=60.0,
        wall_seconds=75.0,
        peak_rss_mb=900.0,
        final_train_loss=0.8,
        validation_loss=0.9,
        run_id="run-1",
        created_at="2025-01-01T00:00:00+00:00",
        metrics={"accuracy": MetricValue(0.6, 0.5, 0.7, 40)},
    )
    return AdapterManifest(**{**fields, **changes})


def write_adapter(
    models_dir: Path,
    name: str,
    base: Path = SMOLLM2_FILE,
    base_sha: str | None = None,
    manifest: AdapterManifest | None = None,
    **lora,
) -> Path:
    """models_dir/adapters/<name>/ with adapter.gguf for `base` and its manifest."""
    folder = models_dir / ADAPTERS_FOLDER / name
    write_lora_gguf(folder / ADAPTER_FILE, base, **lora)
    if manifest is None:
        manifest = manifest_for(name, base.stem, base_sha or base_sha256(base))
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest.to_json()))
    return folder


def linked_models(folder: Path, *files: Path) -> Path:
    """A models folder holding symbolic links to real model files."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        (folder / file.name).symlink_to(file)
    return folder
