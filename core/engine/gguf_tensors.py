"""The tensor types a GGUF file actually holds, read from its header.

A quantization type such as Q4_K_M is a recipe, not a promise: llama.cpp gives some tensors a
higher type on purpose, and a K-quant needs rows that are a multiple of 256, so on models whose
hidden size is not (SmolLM2's 576, Gemma 3 270M's 640) many tensors fall back to older types.
The header lists every tensor with its type, so reading it tells what was really written. The
format (GGUF v2/v3, little-endian): magic, version, tensor count, key/value count, the key/value
pairs, then per tensor its name, dimensions, type id and offset.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path
from typing import BinaryIO

# Sizes of the fixed-width GGUF value types, by type id; 8 is a string, 9 an array.
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def ggml_type_names() -> dict[int, str]:
    """ggml type ids to names ("Q4_K", "F32", …) from the llama.cpp build in use."""
    import llama_cpp

    prefix = "GGML_TYPE_"
    return {
        getattr(llama_cpp, name): name[len(prefix) :]
        for name in dir(llama_cpp)
        if name.startswith(prefix) and name != "GGML_TYPE_COUNT"
    }


def _read(fh: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("the GGUF header ends early")
    return struct.unpack(fmt, data)[0]


def _skip_string(fh: BinaryIO) -> None:
    fh.seek(_read(fh, "<Q"), 1)


def _skip_value(fh: BinaryIO, value_type: int) -> None:
    if value_type in _SCALAR_SIZES:
        fh.seek(_SCALAR_SIZES[value_type], 1)
    elif value_type == _STRING:
        _skip_string(fh)
    elif value_type == _ARRAY:
        item_type, count = _read(fh, "<I"), _read(fh, "<Q")
        if item_type in _SCALAR_SIZES:
            fh.seek(_SCALAR_SIZES[item_type] * count, 1)
        else:
            for _ in range(count):
                _skip_value(fh, item_type)
    else:
        raise ValueError(f"unknown GGUF value type {value_type}")


def _read_text(fh: BinaryIO, limit: int = 1 << 24) -> str:
    size = _read(fh, "<Q")
    if size > limit:  # a corrupt length; reading it would try to allocate that much
        raise ValueError(f"the GGUF header gives a string {size} bytes long (corrupt file)")
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("the GGUF header ends early")
    return data.decode("utf-8", errors="replace")


def header_strings(path: Path) -> dict[str, str]:
    """The header's string-valued keys ("general.type", "general.architecture", …); other
    values are skipped. Raises ValueError for a file that is not GGUF or ends early."""
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError("not a GGUF file (missing GGUF magic bytes)")
        version = _read(fh, "<I")
        if version < 2:
            raise ValueError(f"GGUF version {version}; 2 or later is read")
        _read(fh, "<Q")  # tensor count
        strings = {}
        for _ in range(_read(fh, "<Q")):
            key = _read_text(fh)
            value_type = _read(fh, "<I")
            if value_type == _STRING:
                strings[key] = _read_text(fh)
            else:
                _skip_value(fh, value_type)
        return strings


def tensor_types(path: Path) -> dict[str, int]:
    """Each tensor's name and ggml type id, in file order."""
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError(f"{path.name} is not a GGUF file")
        version = _read(fh, "<I")
        if version < 2:
            raise ValueError(f"{path.name} is GGUF version {version}; 2 or later is read")
        n_tensors, n_kv = _read(fh, "<Q"), _read(fh, "<Q")
        for _ in range(n_kv):
            _skip_string(fh)
            _skip_value(fh, _read(fh, "<I"))
        types = {}
        for _ in range(n_tensors):
            name = fh.read(_read(fh, "<Q")).decode("utf-8", errors="replace")
            n_dims = _read(fh, "<I")
            fh.seek(8 * n_dims, 1)
            types[name] = _read(fh, "<I")
            fh.seek(8, 1)  # offset into the data section
    return types


def type_counts(path: Path) -> tuple[tuple[str, int], ...]:
    """(type name, number of tensors), most frequent first, ties by name."""
    names = ggml_type_names()
    counts = Counter(names.get(t, f"type {t}") for t in tensor_types(path).values())
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
