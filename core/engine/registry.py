"""Model registry: find .gguf files and read their metadata without loading the weights.

Metadata comes from llama.cpp's own loader in vocab-only mode (fast, and it validates tensor
bounds, so truncated files are caught). SHA-256 and metadata are cached per file, keyed on
inode, size, modification and status-change time, so each file is hashed once
(core/engine/file_cache.py), and hashed in full again when a model is loaded for work
(current_file). LoRA adapters under models/adapters/ are listed as "<base>+<adapter>"
(core/engine/adapters.py); what else is in the folder, and why it is not a model, comes from
core/engine/model_folder.py.
"""

from __future__ import annotations

import contextlib
import io
import stat as stat_mode
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.engine.adapters import list_adapters, with_adapters
from core.engine.file_cache import FileCache, sha256_file
from core.engine.model_folder import not_a_file, printable, read_problem, scan, stat_problem
from core.errors import AmbiguousModel, InvalidRequest, ModelNotFound, UnusableModel
from core.types import ModelInfo, SkippedPath

GGUF_MAGIC = b"GGUF"


def _quantization_names() -> dict[int, str]:
    import llama_cpp

    prefix = "LLAMA_FTYPE_MOSTLY_"
    names = {}
    for key, value in vars(llama_cpp).items():
        if key.startswith(prefix):
            names[value] = key.removeprefix(prefix)
        elif key == "LLAMA_FTYPE_ALL_F32":
            names[value] = "F32"
    return names


def _loader_error(log_text: str) -> str:
    """The most specific reason llama.cpp logged for refusing a file."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for marker in ("error loading model: ", "gguf_init_from_reader: ", "gguf_init_from_file"):
        for line in lines:
            if marker in line:
                reason = line.split(marker, 1)[1] if marker.endswith(": ") else line
                if "failed to load model from" not in reason:
                    return reason
    return "llama.cpp could not load the file (corrupt or unsupported GGUF)"


def read_metadata(path: Path) -> dict[str, str]:
    """GGUF key/value metadata via llama.cpp vocab-only load. Raises ValueError with a reason."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head:
        raise ValueError("empty file")
    if head != GGUF_MAGIC:
        raise ValueError("not a GGUF file (missing GGUF magic bytes)")
    from llama_cpp import Llama

    captured = io.StringIO()
    try:
        # verbose=True so llama.cpp's own error text reaches stderr, where we capture it.
        with contextlib.redirect_stderr(captured):
            llm = Llama(str(path), vocab_only=True, verbose=True)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ValueError(_loader_error(captured.getvalue())) from exc
    try:
        return dict(llm.metadata)
    finally:
        llm.close()


def _info_from_metadata(path: Path, size: int, sha: str, meta: dict[str, str]) -> ModelInfo:
    arch = meta.get("general.architecture")
    ctx = meta.get(f"{arch}.context_length") if arch else None
    file_type = meta.get("general.file_type")
    quant = None
    if file_type is not None and file_type.isdigit():
        quant = _quantization_names().get(int(file_type), f"type {file_type}")
    return ModelInfo(
        name=path.stem,
        path=path,
        file_size=size,
        usable=True,
        sha256=sha,
        display_name=meta.get("general.name"),
        architecture=arch,
        size_label=meta.get("general.size_label"),
        quantization=quant,
        context_length=int(ctx) if ctx and ctx.isdigit() else None,
        has_chat_template=bool(meta.get("tokenizer.chat_template")),
    )


def _unusable(path: Path, size: int, reason: str) -> ModelInfo:
    return ModelInfo(
        name=printable(path.stem), path=path, file_size=size, usable=False, reason=reason
    )


def inspect_model(path: Path, cache: FileCache | None = None) -> ModelInfo:
    """Describe one .gguf path; never raises for a bad one, it is reported as unusable. Not a
    regular file, or not readable by this process: unusable, whatever the cache says (and
    not cached, since another user may read it)."""
    try:
        stat = path.stat()
    except OSError as exc:
        return _unusable(path, 0, stat_problem(path, exc))
    if not stat_mode.S_ISREG(stat.st_mode):
        return _unusable(path, 0, not_a_file(stat.st_mode))
    if printable(path.name) != path.name:  # a model's name is stored, shown and typed
        return _unusable(path, stat.st_size, "its file name is not valid UTF-8; rename it")
    if problem := read_problem(path):
        return _unusable(path, stat.st_size, problem)
    if cache and (hit := cache.get(path, stat)):
        return hit
    try:
        meta = read_metadata(path)
        info = _info_from_metadata(path, stat.st_size, sha256_file(path), meta)
    except (ValueError, OSError) as exc:
        reason = f"cannot be read: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        info = _unusable(path, stat.st_size, reason)
    if cache:
        cache.put(path, stat, info)
    return info


def discover(models_dir: Path, cache_dir: Path | None = None) -> list[ModelInfo]:
    """All .gguf entries in models_dir, sorted by name, usable or not, each followed by the
    adapters in models_dir/adapters/ that apply to it ("<base>+<adapter>"); adapters that
    cannot be used come last, with the reason."""
    cache = FileCache(cache_dir)
    found = [inspect_model(p, cache) for p in scan(models_dir).models]
    adapters = list_adapters(models_dir, found, cache)
    cache.save()
    return with_adapters(found, adapters)


def other_paths(models_dir: Path) -> list[SkippedPath]:
    """Every other path in models_dir (adapters/ aside), with the reason it is not a model."""
    return list(scan(models_dir).other)


def current_file(info: ModelInfo, cache_dir: Path | None) -> ModelInfo:
    """`info` as its file is now, checked before a model is loaded for work: the file (and an
    adapter's) hashed in full and compared with the listed SHA-256, which came from the cache.
    On a mismatch the cache entry is dropped, the folder read again and the model returned as
    it is now, so that work is stored under the hash of the file that did it, and a run's own
    check against the SHA-256 it recorded refuses a changed file. Raises UnusableModel when
    the file cannot be read or no longer holds a usable model."""
    if info.is_endpoint or not info.usable:
        return info
    listed = {info.path: info.base_sha256 if info.is_adapter else info.sha256}
    if info.adapter_path is not None:
        listed[info.adapter_path] = info.adapter_sha256
    try:
        if all(sha256_file(path) == sha for path, sha in listed.items()):
            return info
    except OSError as exc:
        where = exc.filename or info.path
        raise UnusableModel(str(where), f"cannot be read: {exc.strerror or exc}") from exc
    cache = FileCache(cache_dir)
    for path in listed:
        cache.forget(path)
    cache.save()
    now = next((m for m in discover(info.path.parent, cache_dir) if m.name == info.name), None)
    if now is None or not now.usable:
        raise UnusableModel(str(info.path), now.reason if now else "it is no longer there")
    return now


def resolve(name: str, models: list[ModelInfo]) -> ModelInfo:
    """A usable model by exact name (a file stem or an endpoint's name), or else a model file
    by a unique case-insensitive prefix (or one that all other matching files extend: a
    source before its quantized copies). An endpoint only ever by its exact name: a typed
    prefix must never send prompts to a server."""
    usable = [m for m in models if m.usable]
    for m in usable:
        if m.name == name:
            return m
    files = [m for m in usable if not m.is_endpoint]
    matches = [m for m in files if m.name.lower().startswith(name.lower())]
    if len(matches) == 1:
        return matches[0]
    # A model and its quantized copies ("m.Q4_1", "m.Q4_1-to-Q8_0"): a prefix that matches all
    # of them means the source, whose name starts every other one, as it did before the copies.
    shortest = min(matches, key=lambda m: len(m.name), default=None)
    if shortest and all(m.name.startswith(shortest.name) for m in matches):
        return shortest
    if len(matches) > 1:
        raise AmbiguousModel(name, [m.name for m in matches])
    raise ModelNotFound(name, [m.name for m in usable])


def default_model(models: list[ModelInfo]) -> ModelInfo | None:
    """The embedded instruct model if present, else the first usable one with a chat template.
    Never an endpoint: prompts go to a server only when the user picks it."""
    usable = [m for m in models if m.usable and not m.is_endpoint]
    preferred = [m for m in usable if m.name.lower().startswith("smollm2")]
    with_template = [m for m in usable if m.has_chat_template]
    for group in (preferred, with_template, usable):
        if group:
            return group[0]
    return None


def as_row(info: ModelInfo) -> dict[str, Any]:
    row = asdict(info)
    row["path"] = str(info.path)
    row["adapter_path"] = str(info.adapter_path) if info.adapter_path else None
    row["file_size_mb"] = round(info.file_size / 1e6, 1)
    row["endpoint"] = info.endpoint.to_dict() if info.endpoint else None
    row["leaves_machine"] = info.leaves_machine
    return row


def local_models(models: list[ModelInfo]) -> list[ModelInfo]:
    """The models that are files here (endpoint models left out): what quantizing, scoring,
    embedding and fine-tuning can use."""
    return [m for m in models if not m.is_endpoint]


def require_local_file(info: ModelInfo, action: str) -> None:
    """Refuses an endpoint model for work that needs the model's own GGUF file."""
    if info.endpoint is not None:
        raise InvalidRequest(
            f"{info.name} is served by endpoint {info.endpoint.name}; {action} needs a GGUF "
            "file in the models folder."
        )


def count_tokens(path: Path, text: str) -> int:
    """Tokens of `text` (BOS included where the model adds one), reading only the vocabulary:
    no weights are loaded, so nothing is left resident for later measurements."""
    from llama_cpp import Llama

    with contextlib.redirect_stderr(io.StringIO()):  # llama.cpp's notes about a 0 context
        llm = Llama(str(path), vocab_only=True, verbose=False)
    try:
        return len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))
    finally:
        llm.close()
