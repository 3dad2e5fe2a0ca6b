"""Reading tensor types from a GGUF header, naming quantized copies, parsing type lists."""

import struct
from pathlib import Path

import pytest

from core.engine.gguf_tensors import tensor_types, type_counts
from core.engine.quantize import output_path, parse_types
from core.errors import InvalidRequest


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, tensors: list[tuple[str, int]]) -> None:
    """A header with one string, one u32, one string array and one i32 array of metadata
    (the reader must skip each kind), then the tensors."""
    kv = (
        _string("general.architecture")
        + struct.pack("<I", 8)
        + _string("llama")
        + _string("llama.block_count")
        + struct.pack("<I", 4)
        + struct.pack("<I", 2)
        + _string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_string(t) for t in ("<s>", "a", "bc"))
        + _string("tokenizer.ggml.token_type")
        + struct.pack("<IIQ", 9, 5, 3)
        + struct.pack("<3i", 1, 1, 1)
    )
    infos = b"".join(
        _string(name)
        + struct.pack("<I", 2)
        + struct.pack("<2Q", 576, 3)
        + struct.pack("<I", t)
        + struct.pack("<Q", 0)
        for name, t in tensors
    )
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 4) + kv + infos)


def test_tensor_types_are_read_past_every_kind_of_metadata(tmp_path):
    path = tmp_path / "m.gguf"
    # 8 = Q8_0, 0 = F32, 12 = Q4_K in ggml's numbering
    write_gguf(path, [("a.weight", 8), ("norm", 0), ("b.weight", 8), ("c.weight", 12)])
    assert tensor_types(path) == {"a.weight": 8, "norm": 0, "b.weight": 8, "c.weight": 12}
    assert type_counts(path) == (("Q8_0", 2), ("F32", 1), ("Q4_K", 1))


def test_a_truncated_or_foreign_file_is_refused(tmp_path):
    path = tmp_path / "m.gguf"
    write_gguf(path, [("a.weight", 8)])
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="ends early"):
        tensor_types(path)
    other = tmp_path / "x.gguf"
    other.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ValueError, match="not a GGUF file"):
        tensor_types(other)


def test_copies_are_named_after_the_source_and_say_when_requantized():
    assert output_path(Path("m/llama-3-8b.F16.gguf"), "Q4_K_M", False) == Path(
        "m/llama-3-8b.Q4_K_M.gguf"
    )
    assert output_path(Path("m/gemma-3-270m-q4_k_m.gguf"), "Q8_0", True).name == (
        "gemma-3-270m-q4_k_m-to-Q8_0.gguf"
    )
    assert output_path(Path("phi-2.gguf"), "Q2_K", False).name == "phi-2.Q2_K.gguf"


def test_type_lists_are_normalised_and_unknown_names_refused():
    assert parse_types("q8_0, Q4_K_M,q8_0") == ("Q8_0", "Q4_K_M")
    with pytest.raises(InvalidRequest, match="Unknown quantization type Q9"):
        parse_types("Q8_0,Q9")
    with pytest.raises(InvalidRequest, match="at least one"):
        parse_types(" , ")


def test_a_prefix_means_the_source_when_only_its_copies_also_match():
    from core.engine.registry import resolve
    from core.errors import AmbiguousModel
    from tests.support import fake_model

    source, copy = fake_model("Smol.Q4_1", "1"), fake_model("Smol.Q4_1-to-Q8_0", "2")
    other = fake_model("Smolder", "3")
    assert resolve("smol", [copy, source]) == source
    assert resolve("Smol.Q4_1-to", [copy, source]) == copy
    with pytest.raises(AmbiguousModel):
        resolve("smol", [copy, source, other])  # Smolder is not a copy of Smol.Q4_1
