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


@dataclass(frozen=True)
class LadderConfig:
    """A quantization ladder: a source model, the types to quantize it to, and the text every
    rung is measured on. The text is kept in the config so a resumed ladder measures the same."""

    source: str  # model name (file stem)
    source_sha256: str
    types: tuple[str, ...]
    allow_requantize: bool
    text: str
    text_label: str  # where the text came from: a file name or "suite <name>"
    n_ctx: int
    llama_cpp_version: str = ""
    # A suite whose multiple-choice questions and reference answers also give each rung a
    # likelihood quality (core/evaluation/likelihood.py); None for a plain text.
    quality_suite: str | None = None

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "source_sha256": self.source_sha256,
            "types": list(self.types),
            "allow_requantize": self.allow_requantize,
            "text": self.text,
            "text_label": self.text_label,
            "n_ctx": self.n_ctx,
            "llama_cpp_version": self.llama_cpp_version,
            "quality_suite": self.quality_suite,
        }

    @classmethod
    def from_json(cls, stored: dict) -> LadderConfig:
        return cls(
            source=stored["source"],
            source_sha256=stored.get("source_sha256", ""),
            types=tuple(stored["types"]),
            allow_requantize=bool(stored.get("allow_requantize")),
            text=stored["text"],
            text_label=stored.get("text_label", ""),
            n_ctx=int(stored["n_ctx"]),
            llama_cpp_version=stored.get("llama_cpp_version", ""),
            quality_suite=stored.get("quality_suite"),
        )

    @property
    def model_names(self) -> tuple[str, ...]:
        return (self.source,)


@dataclass(frozen=True)
class LadderRung:
    """One model of a ladder, measured: the source itself (qtype "source") or a copy. KLD and
    same-top are against the source, which is the highest-precision member: a copy of an
    already-quantized file cannot hold more than that file does."""

    model_name: str
    qtype: str
    file_bytes: int
    tensor_types: tuple[tuple[str, int], ...]
    requantized: bool
    memory_mb: float
    prompt_tokens_per_s: float | None  # evaluating a prompt of about one chunk, batched
    gen_tokens_per_s: float | None  # greedy decoding, one token at a time
    gen_tokens: int
    perplexity: float
    perplexity_uncertainty: float
    positions: int
    mean_kld: float | None  # None for the source itself
    mean_kld_uncertainty: float | None
    kld_p99: float | None
    same_top: float | None
    same_top_uncertainty: float | None
    rms_delta_p: float | None
    ppl_ratio: float | None
    # Likelihood quality on the suite's scorable questions: the mean of acc_norm (0 or 1) per
    # multiple-choice question and 2^-bpb per reference answer, with a 95 % interval.
    quality: float | None = None
    quality_low: float | None = None
    quality_high: float | None = None
    quality_n: int = 0
