"""Records of token-level comparisons between models: KL divergence from a base model, and the
quantization ladder built from one source file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spread:
    """A distribution's summary over scored positions: percentiles as (fraction, value),
    highest fraction first, plus the extremes."""

    percentiles: tuple[tuple[float, float], ...]
    maximum: float
    minimum: float

    def at(self, fraction: float) -> float:
        for f, value in self.percentiles:
            if math.isclose(f, fraction):
                return value
        raise KeyError(fraction)


@dataclass(frozen=True)
class KlDivergence:
    """How far `model_name`'s next-token distributions are from `base_name`'s over a text, as
    llama-perplexity --kl-divergence reports it (core/engine/kld.py). Every "uncertainty" is
    one standard error."""

    base_name: str
    model_name: str
    n_ctx: int
    text_tokens: int
    chunks: int
    positions: int  # scored positions: the second half of each chunk
    ppl_base: float
    ppl_base_uncertainty: float
    ppl: float
    ppl_uncertainty: float
    ln_ppl_ratio: float  # mean ln(PPL(model) / PPL(base)), paired position by position
    ln_ppl_ratio_uncertainty: float
    ppl_correlation: float  # of the two models' per-position nll, as llama.cpp's Cor(...)
    mean_kld: float  # nats
    mean_kld_uncertainty: float
    kld: Spread
    mean_delta_p: float  # P_model(token) - P_base(token), as a fraction (not %)
    mean_delta_p_uncertainty: float
    rms_delta_p: float
    rms_delta_p_uncertainty: float
    delta_p: Spread
    same_top: float  # share of positions where both models rank the same token first
    same_top_uncertainty: float
    seconds: float = 0.0

    @property
    def ppl_ratio(self) -> float:
        return math.exp(self.ln_ppl_ratio)

    @property
    def ppl_ratio_uncertainty(self) -> float:
        return self.ppl_ratio * self.ln_ppl_ratio_uncertainty


@dataclass(frozen=True)
class QuantizedFile:
    """One file `perfics quantize` wrote, with the tensor types llama.cpp actually used: a
    K-quant falls back to an older type for tensors whose rows are not a multiple of 256."""

    source: Path
    path: Path
    qtype: str  # the requested type, e.g. "Q4_K_M"
    size_bytes: int
    tensor_types: tuple[tuple[str, int], ...]  # (ggml type, number of tensors), most first
    requantized: bool  # the source was already quantized: loss is relative to it
    seconds: float
    reused: bool = False  # the file was already there and was left as it was
