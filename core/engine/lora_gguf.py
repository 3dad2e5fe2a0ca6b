"""A GGUF LoRA adapter, written straight from peft's saved adapter (adapter_config.json and
adapter_model.safetensors) with the `gguf` package: no torch, no llama.cpp converter.

What llama.cpp reads (src/llama-adapter.cpp): `general.type` "adapter", the base model's
`general.architecture`, `adapter.type` "lora" and `adapter.lora.alpha`; for every adapted
weight `W` (named as in the base GGUF, e.g. `blk.0.attn_q.weight`) two tensors `W.lora_a` and
`W.lora_b`, with ggml shapes a = [n_in, r] and b = [r, n_out]. peft's lora_A.weight is
(r, n_in) and lora_B.weight (n_out, r) as numpy arrays, which are exactly those shapes (ggml
lists dimensions innermost first). llama.cpp scales by alpha / r, as peft does.

The llama architecture stores q and k with each head's rotary halves interleaved, while
Hugging Face keeps the two halves apart; llama.cpp's converter permutes those weights' rows,
so an adapter's lora_B of q_proj and k_proj must be permuted the same way (lora_A acts on the
input side and stays). Gemma 3 needs no permutation. Left out, the adapter still loads but
acts on the wrong rotary dimensions: next-token KL to the PyTorch model rose from 0.006 to
0.028 on SmolLM2 in the prototype (docs/learning.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from core.engine.training_packages import import_training
from core.errors import InvalidRequest

PEFT_CONFIG_FILE = "adapter_config.json"
PEFT_WEIGHTS_FILE = "adapter_model.safetensors"
# Hugging Face model_type -> the GGUF architecture llama.cpp names the base model with.
GGUF_ARCHITECTURES = {"llama": "llama", "gemma3_text": "gemma3", "gemma3": "gemma3"}
ROTARY_PERMUTED = {"llama"}  # GGUF architectures whose q and k rows llama.cpp interleaves


def gguf_architecture(model_type: str) -> str:
    """The GGUF architecture of a Hugging Face model type, or a clear refusal."""
    try:
        return GGUF_ARCHITECTURES[model_type]
    except KeyError:
        supported = ", ".join(sorted(set(GGUF_ARCHITECTURES.values())))
        raise InvalidRequest(
            f"LoRA adapters can be written for {supported} models, not {model_type!r}."
        ) from None


def interleave_rotary_rows(b: np.ndarray, n_head: int) -> np.ndarray:
    """lora_B's rows from Hugging Face's layout (per head: the first rotary half, then the
    second) to llama.cpp's (per head: the halves' rows alternating). For one head of 4 rows
    r0 r1 r2 r3 the result is r0 r2 r1 r3."""
    rows = b.shape[0]
    if rows % (2 * n_head):
        raise InvalidRequest(f"{rows} rows do not split into {n_head} heads of rotary pairs.")
    return b.reshape(n_head, 2, rows // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def _base_name(names, module: str) -> str:
    """`model.layers.0.self_attn.q_proj` -> `blk.0.attn_q.weight`."""
    found = names.get_name(module + ".weight", try_suffixes=(".weight",))
    if found is None:
        raise InvalidRequest(f"No GGUF tensor corresponds to the adapted layer {module!r}.")
    return found


def _module_of(key: str) -> str:
    """peft's `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` ->
    `model.layers.0.self_attn.q_proj`."""
    return key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")


def _rotary_heads(module: str, hf_config: dict) -> int | None:
    if module.endswith("q_proj"):
        return int(hf_config["num_attention_heads"])
    if module.endswith("k_proj"):
        return int(hf_config.get("num_key_value_heads") or hf_config["num_attention_heads"])
    return None


def lora_tensors(peft_dir: Path, hf_config: dict) -> tuple[float, dict[str, np.ndarray]]:
    """(alpha, GGUF tensor name -> float32 array) for the adapter saved in peft_dir."""
    safetensors_numpy = import_training("safetensors.numpy")
    peft_config = json.loads((Path(peft_dir) / PEFT_CONFIG_FILE).read_text())
    if peft_config.get("use_rslora") or peft_config.get("alpha_pattern"):
        raise InvalidRequest("Adapters with rsLoRA or per-layer alphas cannot be written.")
    arch = gguf_architecture(str(hf_config.get("model_type")))
    gguf = import_training("gguf")
    model_arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(model_arch, int(hf_config["num_hidden_layers"]))
    weights = safetensors_numpy.load_file(str(Path(peft_dir) / PEFT_WEIGHTS_FILE))
    out: dict[str, np.ndarray] = {}
    for key in sorted(k for k in weights if k.endswith(".lora_A.weight")):
        module = _module_of(key)
        a = weights[key].astype(np.float32)
        b = weights[key.replace(".lora_A.", ".lora_B.")].astype(np.float32)
        heads = _rotary_heads(module, hf_config) if arch in ROTARY_PERMUTED else None
        if heads:
            b = interleave_rotary_rows(b, heads)
        base = _base_name(names, module)
        out[f"{base}.lora_a"] = np.ascontiguousarray(a)
        out[f"{base}.lora_b"] = np.ascontiguousarray(b)
    if not out:
        raise InvalidRequest(f"{peft_dir} holds no LoRA weights.")
    return float(peft_config["lora_alpha"]), out


def write_lora_gguf(peft_dir: Path, hf_config: dict, out: Path) -> None:
    """Write peft_dir's adapter as a GGUF LoRA adapter at `out` for the base model described by
    hf_config (transformers' config as a dict: model_type, num_hidden_layers, heads). Written
    beside `out` and renamed into place, so a failed write never leaves half a file."""
    gguf = import_training("gguf")
    alpha, tensors = lora_tensors(peft_dir, hf_config)
    arch = gguf_architecture(str(hf_config["model_type"]))
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(partial, out)
