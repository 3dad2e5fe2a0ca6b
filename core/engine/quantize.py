"""Writing quantized copies of a GGUF model with llama.cpp's own quantizer
(llama_cpp.llama_model_quantize), tensor by tensor with progress.

A file is written under a temporary name and renamed into place when complete, so a stopped or
failed quantization never leaves a half-written model in the models folder. Quantizing a file
that is already quantized (both default models are) needs allow_requantize: the copy can only
lose precision relative to that file, never recover what its own quantization removed, so
every figure measured on it is relative to the source file, not to the original weights.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core.engine.gguf_tensors import tensor_types, type_counts
from core.errors import InvalidRequest
from core.types.token_level import QuantizedFile

# The ladder's usual rungs, highest precision first.
DEFAULT_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
# ggml types that hold unquantized weights; anything else in a file means it is quantized.
_FULL_PRECISION = {0, 1, 30}  # F32, F16, BF16
_TENSOR_LINE = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\]")
_TEMP_SUFFIX = ".partial"
# Less free space than this after a failed write means the write failed for want of space.
_FULL_DISK_BYTES = 64 * 1024

OnTensor = Callable[[int, int], None]  # (tensors done, total)


def quantization_types() -> dict[str, int]:
    """Type names llama.cpp can write (Q8_0, Q4_K_M, …) and their llama_ftype ids."""
    import llama_cpp

    prefix = "LLAMA_FTYPE_MOSTLY_"
    return {
        name.removeprefix(prefix): getattr(llama_cpp, name)
        for name in dir(llama_cpp)
        if name.startswith(prefix)
    }


def parse_types(text: str) -> tuple[str, ...]:
    """ "q8_0, Q4_K_M" -> ("Q8_0", "Q4_K_M"), in the order given, each once; unknown names are
    refused with the list of known ones."""
    known = quantization_types()
    wanted = [t.strip().upper() for t in text.split(",") if t.strip()]
    if not wanted:
        raise InvalidRequest("Name at least one quantization type, e.g. Q8_0,Q4_K_M.")
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise InvalidRequest(
            f"Unknown quantization type {', '.join(unknown)}; llama.cpp writes "
            f"{', '.join(sorted(known))}."
        )
    return tuple(dict.fromkeys(wanted))


def is_quantized(path: Path) -> bool:
    """Whether any tensor holds quantized weights. Read from the header once per file version:
    the Quantization page asks on every rerun, and Gemma's header lists 262,144 tokens."""
    stat = path.stat()
    return _is_quantized(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _is_quantized(path: str, size: int, mtime_ns: int) -> bool:
    return any(t not in _FULL_PRECISION for t in tensor_types(Path(path)).values())


def check_requantize(source: Path, allow_requantize: bool) -> bool:
    """Whether `source` is already quantized; refused unless allowed, since its copies can only
    show loss relative to it."""
    try:
        requantized = is_quantized(source)
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"Cannot read {source.name}: {exc}") from None
    if requantized and not allow_requantize:
        raise InvalidRequest(
            f"{source.name} is already quantized: a copy can only measure loss relative to it, "
            "not to the original weights. Pass --allow-requantize (on the Quantization page, "
            "tick Allow requantizing) to do it anyway."
        )
    return requantized


def copy_path(source: Path, qtype: str) -> Path:
    """Where quantizing `source` to `qtype` writes (or has written) its copy."""
    return output_path(source, qtype, is_quantized(source))


def describe_copy(
    source: Path, path: Path, qtype: str, requantized: bool, seconds: float, reused: bool
) -> QuantizedFile:
    return QuantizedFile(
        source=source,
        path=path,
        qtype=qtype,
        size_bytes=path.stat().st_size,
        tensor_types=type_counts(path),
        requantized=requantized,
        seconds=seconds,
        reused=reused,
    )


# A quantization suffix at the end of a file stem: ".Q4_1", "-q4_k_m", "_F16", …
_STEM_QUANT = re.compile(
    r"[.\-_](?:[QqIi][QqA-Za-z0-9_]*\d[A-Za-z0-9_]*|[Ff](?:16|32)|[Bb][Ff]16)$"
)


def output_path(source: Path, qtype: str, requantized: bool) -> Path:
    """Next to the source. A fresh quantization is "<stem>.<TYPE>.gguf"; a requantized one
    keeps the source's own type in its name ("model.Q4_1-to-Q8_0.gguf"), so nobody mistakes it
    for a quantization of the original weights."""
    stem = source.stem
    if requantized:
        return source.with_name(f"{stem}-to-{qtype}.gguf")
    return source.with_name(f"{_STEM_QUANT.sub('', stem)}.{qtype}.gguf")


def _capture_progress(on_tensor: OnTensor | None, failures: list[str]):
    """llama.cpp logs "[  12/ 272] tensor …" as it writes each tensor; the callback turns
    those lines into progress (and keeps them off the terminal). Its "failed to quantize: …"
    line is kept in `failures`: it is the only word llama.cpp gives on why it gave up."""
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level, text, user_data):
        line = text.decode("utf-8", errors="replace").strip()
        match = _TENSOR_LINE.match(line)
        if match and on_tensor:
            on_tensor(int(match.group(1)), int(match.group(2)))
        elif "failed to quantize" in line:
            failures.append(line.split("failed to quantize", 1)[1].strip(" :"))

    return callback


def _start_copy(temporary: Path, target: Path) -> None:
    """Create the temporary file before llama.cpp does, so that a folder it cannot write (a
    read-only disk, no permission) is named with the system's reason, not llama.cpp's silence."""
    try:
        temporary.open("wb").close()
    except OSError as exc:
        raise InvalidRequest(
            f"Cannot write the copy {target.name} into {target.parent}: "
            f"{exc.strerror or exc}. Quantized copies are written next to their source."
        ) from None


def _why_it_failed(temporary: Path, failures: list[str]) -> str:
    """A full disk first (llama.cpp reports it as a bare "iostream error"), else llama.cpp's own
    reason. Read before the partial file is removed, while it still fills the disk."""
    try:
        written = temporary.stat().st_size
        free = shutil.disk_usage(temporary.parent).free
    except OSError:
        written, free = 0, None
    if free is not None and free < _FULL_DISK_BYTES:
        return (
            f"the disk holding {temporary.parent} is full ({written / 2**20:.1f} MiB of the copy "
            "were written); free some space and run it again"
        )
    return f"llama.cpp says: {failures[-1]}" if failures else "llama.cpp gave no reason"


def quantize(
    source: Path,
    qtype: str,
    allow_requantize: bool = False,
    threads: int = 2,
    on_tensor: OnTensor | None = None,
) -> QuantizedFile:
    """Writes `source` quantized to `qtype` (a name from quantization_types()). Raises
    InvalidRequest for an unknown type, a quantized source without allow_requantize, or an
    output path that exists."""
    import llama_cpp
    from llama_cpp import _logger

    ftype = quantization_types().get(qtype)
    if ftype is None:
        parse_types(qtype)  # raises with the list of known types
    requantized = check_requantize(source, allow_requantize)
    target = output_path(source, qtype, requantized)
    if target.exists():
        raise InvalidRequest(f"{target.name} already exists; delete it first to rewrite it.")
    temporary = target.with_name(target.name + _TEMP_SUFFIX)
    _start_copy(temporary, target)
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = requantized
    failures: list[str] = []
    callback = _capture_progress(on_tensor, failures)
    started = time.perf_counter()
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(temporary).encode(), ctypes.byref(params)
        )
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
    if status != 0:
        reason = _why_it_failed(temporary, failures)
        with contextlib.suppress(OSError):  # nothing half-written is left behind
            temporary.unlink(missing_ok=True)
        raise InvalidRequest(f"llama.cpp could not quantize {source.name} to {qtype}: {reason}.")
    temporary.replace(target)
    return describe_copy(
        source, target, qtype, requantized, time.perf_counter() - started, reused=False
    )
