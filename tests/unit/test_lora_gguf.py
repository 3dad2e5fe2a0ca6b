"""The GGUF LoRA writer (core/engine/lora_gguf.py) on synthetic peft adapters: the rotary row
permutation worked out by hand, the metadata llama.cpp checks, and tensor names and shapes
matched against the real base models' own GGUF tensors."""

import json

import numpy as np
import pytest

from core.engine.lora_gguf import interleave_rotary_rows, lora_tensors, write_lora_gguf
from core.errors import InvalidRequest
from tests.support import GEMMA, MODELS_DIR, SMOLLM2

gguf = pytest.importorskip("gguf")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

# The two default models' shapes as Hugging Face describes them (config.json), written out
# here rather than read from the GGUF so the shape test below checks something independent.
SMOLLM2_CONFIG = {
    "model_type": "llama",
    "num_hidden_layers": 30,
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
}
GEMMA_CONFIG = {
    "model_type": "gemma3_text",
    "num_hidden_layers": 18,
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
}
MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _linear_shapes(cfg: dict) -> dict[str, tuple[int, int]]:
    """(out, in) of every linear layer LoRA adapts, from the Hugging Face config."""
    hidden, inter, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    return {
        "q_proj": (q, hidden),
        "k_proj": (kv, hidden),
        "v_proj": (kv, hidden),
        "o_proj": (hidden, q),
        "gate_proj": (inter, hidden),
        "up_proj": (inter, hidden),
        "down_proj": (hidden, inter),
    }


def _peft_dir(tmp_path, cfg: dict, rank: int = 2, layers: range | None = None, alpha=4.0):
    """A folder as peft's save_pretrained writes it, with random weights."""
    rng = np.random.default_rng(0)
    shapes = _linear_shapes(cfg)
    weights = {}
    for layer in layers if layers is not None else range(cfg["num_hidden_layers"]):
        for module in MODULES:
            part = "self_attn" if module in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            key = f"base_model.model.model.layers.{layer}.{part}.{module}"
            out, inp = shapes[module]
            weights[f"{key}.lora_A.weight"] = rng.normal(size=(rank, inp)).astype(np.float32)
            weights[f"{key}.lora_B.weight"] = rng.normal(size=(out, rank)).astype(np.float32)
    folder = tmp_path / "peft"
    folder.mkdir()
    safetensors_numpy.save_file(weights, str(folder / "adapter_model.safetensors"))
    config = {"r": rank, "lora_alpha": alpha, "peft_type": "LORA", "use_rslora": False}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder, weights


def test_rotary_rows_are_interleaved_per_head_as_worked_by_hand():
    # Two heads of four rows each (two rotary pairs), rank 2: row i holds (i, 10 + i).
    b = np.array([[i, 10 + i] for i in range(8)], dtype=np.float32)
    # Per head, halves [r0 r1 | r2 r3] become pairs r0 r2 r1 r3; head 2 likewise from r4.
    expected = np.array(
        [[0, 10], [2, 12], [1, 11], [3, 13], [4, 14], [6, 16], [5, 15], [7, 17]],
        dtype=np.float32,
    )
    assert np.array_equal(interleave_rotary_rows(b, n_head=2), expected)
    # One head of six rows (three pairs): r0 r1 r2 | r3 r4 r5 -> r0 r3 r1 r4 r2 r5.
    one = np.arange(6, dtype=np.float32).reshape(6, 1)
    assert interleave_rotary_rows(one, n_head=1).ravel().tolist() == [0, 3, 1, 4, 2, 5]


def test_rows_that_do_not_split_into_heads_are_refused():
    with pytest.raises(InvalidRequest, match="heads"):
        interleave_rotary_rows(np.zeros((6, 2)), n_head=2)


def _read(path):
    reader = gguf.GGUFReader(str(path))
    fields = {name: reader.fields[name].contents() for name in reader.fields}
    tensors = {t.name: t for t in reader.tensors}
    return fields, tensors


def test_the_llama_writer_permutes_q_and_k_lora_b_only(tmp_path):
    folder, weights = _peft_dir(tmp_path, SMOLLM2_CONFIG, layers=range(2))
    out = tmp_path / "adapter.gguf"
    write_lora_gguf(folder, {**SMOLLM2_CONFIG, "num_hidden_layers": 2}, out)
    fields, tensors = _read(out)
    assert fields["general.type"] == "adapter"
    assert fields["general.architecture"] == "llama"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 4.0
    assert len(tensors) == 2 * len(MODULES) * 2
    key = "base_model.model.model.layers.1.self_attn"

    def stored(name):
        t = tensors[name]
        return np.array(t.data).reshape([int(n) for n in reversed(t.shape)])

    q_b = weights[f"{key}.q_proj.lora_B.weight"]
    k_b = weights[f"{key}.k_proj.lora_B.weight"]
    assert np.array_equal(stored("blk.1.attn_q.weight.lora_b"), interleave_rotary_rows(q_b, 9))
    assert np.array_equal(stored("blk.1.attn_k.weight.lora_b"), interleave_rotary_rows(k_b, 3))
    # k has 3 heads of 64 rows: row 1 of the file is row 32 of Hugging Face's layout.
    assert np.array_equal(stored("blk.1.attn_k.weight.lora_b")[1], k_b[32])
    assert np.array_equal(
        stored("blk.1.attn_q.weight.lora_a"), weights[f"{key}.q_proj.lora_A.weight"]
    )
    assert np.array_equal(
        stored("blk.1.attn_v.weight.lora_b"), weights[f"{key}.v_proj.lora_B.weight"]
    )
    assert not (tmp_path / ".adapter.gguf.partial").exists()


def test_gemma3_weights_are_written_unpermuted(tmp_path):
    folder, weights = _peft_dir(tmp_path, GEMMA_CONFIG, layers=range(1))
    _, tensors = lora_tensors(folder, {**GEMMA_CONFIG, "num_hidden_layers": 1})
    q_b = weights["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    assert np.array_equal(tensors["blk.0.attn_q.weight.lora_b"], q_b)


@pytest.mark.parametrize(("model", "cfg"), [(SMOLLM2, SMOLLM2_CONFIG), (GEMMA, GEMMA_CONFIG)])
def test_every_tensor_names_a_base_weight_with_the_shapes_llama_cpp_checks(tmp_path, model, cfg):
    folder, _ = _peft_dir(tmp_path, cfg, rank=3)
    out = tmp_path / "adapter.gguf"
    write_lora_gguf(folder, cfg, out)
    fields, tensors = _read(out)
    base_fields, base = _read(MODELS_DIR / f"{model}.gguf")
    assert fields["general.architecture"] == base_fields["general.architecture"]
    assert len(tensors) == 2 * len(MODULES) * cfg["num_hidden_layers"]
    for name, a in tensors.items():
        if not name.endswith(".lora_a"):
            continue
        weight = name.removesuffix(".lora_a")
        b = tensors[f"{weight}.lora_b"]
        assert weight in base, weight
        # llama-adapter.cpp: a.ne[0] == W.ne[0], b.ne[1] == W.ne[1], a.ne[1] == b.ne[0] == r
        w_ne = [int(n) for n in base[weight].shape]
        assert [int(n) for n in a.shape] == [w_ne[0], 3], weight
        assert [int(n) for n in b.shape] == [3, w_ne[1]], weight


def test_an_architecture_without_a_mapping_is_refused(tmp_path):
    folder, _ = _peft_dir(tmp_path, SMOLLM2_CONFIG, layers=range(1))
    with pytest.raises(InvalidRequest, match="'phi3'"):
        write_lora_gguf(folder, {**SMOLLM2_CONFIG, "model_type": "phi3"}, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()
