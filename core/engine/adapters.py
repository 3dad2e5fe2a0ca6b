"""LoRA adapters kept under <models>/adapters/<name>/ (adapter.gguf and manifest.json), listed
beside the model files as "<base>+<name>".

An adapter is usable while its manifest reads, its file is a GGUF LoRA adapter for the base's
architecture, and a usable model file with the manifest's base_sha256 is in the models folder.
Anything else is listed as unusable with the reason, never dropped. The pair's identity
(sha256) is the hash of both files' hashes: stored generations and runs key models by it, so a
run made with an adapter refuses to resume once either file has changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import stat as stat_mode
from pathlib import Path

from core.engine.file_cache import FileCache, sha256_file
from core.engine.gguf_tensors import header_strings
from core.engine.model_folder import not_a_file, read_problem
from core.types import ModelInfo
from core.types.finetune import (
    ADAPTER_FILE,
    ADAPTER_FORMAT,
    ADAPTER_SEPARATOR,
    ADAPTERS_FOLDER,
    MANIFEST_FILE,
    AdapterManifest,
)

# Adapter names travel in model names ("<base>+<name>"), comma-separated --models lists and
# file names, so they keep to characters that mean nothing there.
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def pair_sha256(base_sha256: str, adapter_sha256: str) -> str:
    """The identity of a base model with an adapter applied."""
    return hashlib.sha256(f"{base_sha256}:{adapter_sha256}".encode("ascii")).hexdigest()


def read_manifest(folder: Path) -> AdapterManifest:
    """The adapter's manifest; raises ValueError saying what is wrong with it."""
    file = folder / MANIFEST_FILE
    try:
        stored = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{MANIFEST_FILE} is missing") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{MANIFEST_FILE} cannot be read: {exc}") from exc
    if not isinstance(stored, dict):
        raise ValueError(f"{MANIFEST_FILE} is not a JSON object")
    if stored.get("format", ADAPTER_FORMAT) != ADAPTER_FORMAT:
        raise ValueError(
            f"{MANIFEST_FILE} has format {stored.get('format')!r}; this version reads "
            f"format {ADAPTER_FORMAT}"
        )
    try:
        manifest = AdapterManifest.from_json(stored)
    except KeyError as exc:
        raise ValueError(f"{MANIFEST_FILE} lacks the field {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{MANIFEST_FILE} is not a valid adapter manifest: {exc}") from exc
    if not isinstance(manifest.base_sha256, str) or not manifest.base_sha256:
        raise ValueError(f"{MANIFEST_FILE} names no base model SHA-256")
    return manifest


def _check_header(header: dict[str, str]) -> None:
    kind = header.get("general.type")
    if kind != "adapter":
        raise ValueError(f"it is a GGUF {kind or 'model'} file, not an adapter")
    if header.get("adapter.type") != "lora":
        raise ValueError(f"it is a {header.get('adapter.type')!r} adapter; only LoRA is supported")
    if not header.get("general.architecture"):
        raise ValueError("it names no architecture")


def inspect_adapter_file(path: Path, cache: FileCache | None = None) -> ModelInfo:
    """The adapter file on its own: usable when its header says GGUF LoRA adapter. Hashed
    once and cached like model files."""
    name = path.parent.name
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ModelInfo(name, path, 0, usable=False, reason=f"{ADAPTER_FILE} is missing")
    except OSError as exc:
        return ModelInfo(name, path, 0, usable=False, reason=f"{ADAPTER_FILE}: {exc}")
    if not stat_mode.S_ISREG(stat.st_mode):  # a folder or a pipe would fail or block below
        return ModelInfo(
            name, path, 0, usable=False, reason=f"{ADAPTER_FILE}: {not_a_file(stat.st_mode)}"
        )
    if problem := read_problem(path):  # whatever the cache says: it may not be this user's
        return ModelInfo(name, path, stat.st_size, usable=False, reason=f"{ADAPTER_FILE} {problem}")
    if cache and (hit := cache.get(path, stat)):
        return hit
    try:
        header = header_strings(path)
        _check_header(header)
        info = ModelInfo(
            name,
            path,
            stat.st_size,
            usable=True,
            sha256=sha256_file(path),
            display_name=header.get("general.name"),
            architecture=header["general.architecture"],
        )
    except (ValueError, OSError) as exc:
        info = ModelInfo(name, path, stat.st_size, usable=False, reason=f"{ADAPTER_FILE}: {exc}")
    if cache:
        cache.put(path, stat, info)
    return info


def _unusable(name: str, file: Path, reason: str, size: int = 0, base: str | None = None):
    return ModelInfo(
        name, file, size, usable=False, reason=reason, adapter_path=file, base_name=base
    )


def _find_base(manifest: AdapterManifest, models: list[ModelInfo]) -> ModelInfo | None:
    """The usable model file the adapter was trained on, by content; its old name first when
    several files hold the same model."""
    same = [m for m in models if m.usable and not m.is_adapter and m.sha256 == manifest.base_sha256]
    return next((m for m in same if m.name == manifest.base_model), same[0] if same else None)


def _missing_base(manifest: AdapterManifest, models: list[ModelInfo]) -> str:
    trained_on = f"{manifest.base_model} (SHA-256 {manifest.base_sha256[:12]}…)"
    if any(m.name == manifest.base_model for m in models):
        return (
            f"it was trained on {trained_on}, and the file of that name in the models folder "
            "is a different or unusable file"
        )
    return f"its base model {trained_on} is not in the models folder"


def adapter_model(folder: Path, models: list[ModelInfo], cache: FileCache | None) -> ModelInfo:
    """One adapter folder as a model: the base with the adapter applied, or an unusable entry
    saying why not."""
    file = folder / ADAPTER_FILE
    if not _NAME.fullmatch(folder.name):
        return _unusable(
            f"{ADAPTERS_FOLDER}/{folder.name}",
            file,
            "the folder's name may only hold letters, digits, '.', '_' and '-'; rename it",
        )
    try:
        manifest = read_manifest(folder)
    except ValueError as exc:
        return _unusable(f"{ADAPTERS_FOLDER}/{folder.name}", file, str(exc))
    label = f"{manifest.base_model}{ADAPTER_SEPARATOR}{folder.name}"
    adapter = inspect_adapter_file(file, cache)
    if not adapter.usable:
        return _unusable(label, file, adapter.reason or "", adapter.file_size, manifest.base_model)
    base = _find_base(manifest, models)
    if base is None:
        reason = _missing_base(manifest, models)
        return _unusable(label, file, reason, adapter.file_size, manifest.base_model)
    if adapter.architecture != base.architecture:
        reason = (
            f"{ADAPTER_FILE} is for architecture {adapter.architecture}, but its base "
            f"{base.name} is {base.architecture}"
        )
        return _unusable(label, file, reason, adapter.file_size, base.name)
    return dataclasses.replace(
        base,
        name=f"{base.name}{ADAPTER_SEPARATOR}{folder.name}",
        file_size=base.file_size + adapter.file_size,
        sha256=pair_sha256(base.sha256 or "", adapter.sha256 or ""),
        display_name=f"{base.display_name or base.name} + LoRA {folder.name}",
        adapter_path=file,
        adapter_sha256=adapter.sha256,
        base_name=base.name,
        base_sha256=base.sha256,
    )


def list_adapters(
    models_dir: Path, models: list[ModelInfo], cache: FileCache | None = None
) -> list[ModelInfo]:
    """Every folder under <models>/adapters/, by name, usable or not. Hidden folders are an
    adapter being written (or replaced) and not listed until it is renamed into place."""
    root = models_dir / ADAPTERS_FOLDER
    try:
        if not root.is_dir():
            return []
    except OSError:  # the models folder cannot be reached: its own listing says why
        return []
    try:
        folders = sorted(
            (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name.lower(),
        )
    except OSError as exc:
        reason = f"the folder cannot be read: {exc.strerror or exc}"
        return [_unusable(f"{ADAPTERS_FOLDER}/", root, reason)]
    return [adapter_model(folder, models, cache) for folder in folders]


def with_adapters(models: list[ModelInfo], adapters: list[ModelInfo]) -> list[ModelInfo]:
    """Each usable adapter right after its base model; the unusable ones at the end."""
    ordered = []
    for model in models:
        ordered.append(model)
        ordered += [a for a in adapters if a.usable and a.base_name == model.name]
    return ordered + [a for a in adapters if not a.usable]
