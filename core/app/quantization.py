"""Use cases: quantized copies of a model, and how far a copy's predictions drift from its
source's (KL divergence)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.app import context
from core.engine.quantize import check_requantize, copy_path, describe_copy, is_quantized, quantize
from core.engine.registry import require_local_file, resolve
from core.errors import InvalidRequest
from core.types import ModelInfo
from core.types.token_level import KlDivergence, QuantizedFile

# (type being written, tensors done, tensors in the file)
OnQuantizeProgress = Callable[[str, int, int], None]


def source_model(name: str) -> ModelInfo:
    info = resolve(name, context.list_models())
    require_local_file(info, "quantizing")
    if not info.usable:
        raise InvalidRequest(f"{info.name} cannot be used: {info.reason}")
    if info.is_adapter:
        raise InvalidRequest(
            f"{info.name} is {info.base_name} with a LoRA adapter; llama.cpp quantizes model "
            f"files, not adapters. Quantize {info.base_name} instead."
        )
    return info


def quantizable(models: list[ModelInfo]) -> list[ModelInfo]:
    """The usable model files a ladder can start from (a base with an adapter is not one, nor
    is a model an endpoint serves)."""
    return [m for m in models if m.usable and not m.is_adapter and not m.is_endpoint]


def existing_copy(source: Path, qtype: str) -> QuantizedFile | None:
    """The copy a previous quantization to `qtype` left next to `source`, if any."""
    path = copy_path(source, qtype)
    if not path.is_file():
        return None
    return describe_copy(source, path, qtype, is_quantized(source), 0.0, reused=True)


def quantize_model(
    name: str,
    types: tuple[str, ...],
    allow_requantize: bool = False,
    on_progress: OnQuantizeProgress | None = None,
) -> list[QuantizedFile]:
    """Writes the model quantized to each type in turn. A copy already written by an earlier,
    possibly stopped, call is kept and reported as reused, so running again resumes."""
    info = source_model(name)
    check_requantize(info.path, allow_requantize)
    threads = context.settings().threads
    written = []
    for qtype in types:
        copy = existing_copy(info.path, qtype)
        if copy is None:

            def tensor_done(done: int, total: int, qtype: str = qtype) -> None:
                if on_progress:
                    on_progress(qtype, done, total)

            copy = quantize(info.path, qtype, allow_requantize, threads, tensor_done)
        written.append(copy)
    return written


def kl_divergence(
    base: str, model: str, text: str, n_ctx: int = 512, on_chunk=None
) -> KlDivergence:
    """`model`'s next-token distributions against `base`'s over `text` (same vocabulary)."""
    models = context.list_models()
    base_info, model_info = resolve(base, models), resolve(model, models)
    for info in (base_info, model_info):
        require_local_file(info, "KL divergence")
    if (base_info.path, base_info.adapter_path) == (model_info.path, model_info.adapter_path):
        raise InvalidRequest("--base and --model are the same file: its divergence is 0.")
    base_backend = context.load_backend(base)
    backend = context.load_backend(model)
    compare = getattr(backend, "kl_divergence", None)
    if compare is None or not hasattr(base_backend, "llm"):
        raise InvalidRequest("KL divergence needs two local GGUF models' full distributions.")
    return compare(base_backend, text, n_ctx, on_chunk)
