"""KL divergence of a model's next-token distributions from a base model's, position by
position over a text: the statistics llama.cpp's `llama-perplexity --kl-divergence` reports.

The text is cut into chunks exactly as for corpus perplexity (core/engine/perplexity.py) and
the second half of each chunk is scored in both models. At each scored position, with P the
base's distribution, Q the model's and t the actual next token:
  KLD = sum_i P_i (ln P_i - ln Q_i)        (nats; 0 when the two agree exactly)
  delta p = Q_t - P_t                        (how much likelier the model finds the real token)
  same top = argmax P == argmax Q
  nll = -ln Q_t, nll_base = -ln P_t          (each model's perplexity is exp(mean nll))
Uncertainties are llama.cpp's: sqrt((mean(x^2) - mean(x)^2) / (n - 1)), and 0 for n <= 10.

One difference from llama.cpp, on purpose: it stores the base's log-probabilities as 16-bit
integers and drops tokens with ln P below -16, to keep its base file small. We hold both rows
in memory at once, so our KLD is the exact sum in float64; its figures can differ from ours in
about the fourth significant digit (measured in scripts/bench_kld.py).

Everything here is numpy over rows handed in by `Decode` callables (core/engine/token_scoring.py),
so it is tested without a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.engine.choices import log_softmax
from core.engine.perplexity import chunks
from core.engine.token_scoring import Decode, plan_batches
from core.types.token_level import KlDivergence, Spread

# Percentiles llama-perplexity prints, as fractions.
KLD_PERCENTILES = (0.999, 0.99, 0.95, 0.9, 0.5, 0.1, 0.05, 0.01, 0.001)
DELTA_P_PERCENTILES = (0.999, 0.99, 0.95, 0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001)


@dataclass(frozen=True)
class PositionComparison:
    kld: float
    delta_p: float
    same_top: bool
    nll: float
    nll_base: float


def compare_rows(base_logits: np.ndarray, logits: np.ndarray, token: int) -> PositionComparison:
    """The two models' next-token distributions at one position, compared."""
    if base_logits.shape != logits.shape:
        raise ValueError("the two rows must cover the same vocabulary")
    log_p = log_softmax(base_logits)
    log_q = log_softmax(logits)
    p = np.exp(log_p)
    alive = p > 0  # where P_i underflows to 0 its term is 0, even if Q_i is 0 as well
    kld = float(np.sum(p[alive] * (log_p[alive] - log_q[alive])))
    return PositionComparison(
        kld=max(kld, 0.0),  # identical rows can sum to -1e-17
        delta_p=math.exp(log_q[token]) - math.exp(log_p[token]),
        same_top=int(np.argmax(base_logits)) == int(np.argmax(logits)),
        nll=-float(log_q[token]),
        nll_base=-float(log_p[token]),
    )


def mean_and_uncertainty(values: Sequence[float]) -> tuple[float, float]:
    """llama-perplexity's estimate: the mean and sqrt(var / (n - 1)), 0 for ten or fewer."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    mean = math.fsum(values) / n
    variance = math.fsum(v * v for v in values) / n - mean * mean
    return mean, math.sqrt(variance / (n - 1)) if variance > 0 and n > 10 else 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as llama-perplexity (and numpy) do."""
    if fraction <= 0:
        return sorted_values[0]
    if fraction >= 1:
        return sorted_values[-1]
    position = fraction * (len(sorted_values) - 1)
    below = int(position)
    above = min(below + 1, len(sorted_values) - 1)
    weight = position - below
    return (1 - weight) * sorted_values[below] + weight * sorted_values[above]


@dataclass
class KldTally:
    """Per-position comparisons as they come; summarised once at the end."""

    positions: list[PositionComparison] = field(default_factory=list)

    def add(self, comparison: PositionComparison) -> None:
        self.positions.append(comparison)

    def values(self, name: str) -> list[float]:
        return [getattr(c, name) for c in self.positions]

    @property
    def mean_kld(self) -> float:
        return mean_and_uncertainty(self.values("kld"))[0]


def compare_chunk(
    chunk: Sequence[int],
    base_decode: Decode,
    decode: Decode,
    n_batch: int,
    max_outputs: int,
    tally: KldTally,
) -> None:
    """Scores the chunk's second half in both models, batch by batch in step: both decoders'
    rows for a batch are alive at once (each model has its own buffer), so nothing is copied."""
    first = len(chunk) // 2
    for start, end in plan_batches(len(chunk) - 1, first, n_batch, max_outputs):
        wants = [p >= first for p in range(start, end)]
        targets = [chunk[p + 1] for p in range(start, end) if p >= first]
        base_rows = base_decode(chunk[start:end], start, wants)
        rows = decode(chunk[start:end], start, wants)
        for target, base_row, row in zip(targets, base_rows, rows, strict=True):
            tally.add(compare_rows(base_row, row, target))


def corpus_kld(
    tokens: Sequence[int],
    n_ctx: int,
    bos: int | None,
    base_decode: Decode,
    decode: Decode,
    clear: Callable[[], None],
    n_batch: int,
    max_outputs: int,
    on_chunk: Callable[[int, int, float], None] | None = None,
) -> tuple[KldTally, int]:
    """All chunks compared; returns the tally and the number of chunks. on_chunk(done, total,
    mean KLD so far) reports progress. clear() empties both models' KV caches."""
    parts = chunks(tokens, n_ctx, bos)
    tally = KldTally()
    for i, chunk in enumerate(parts):
        clear()
        compare_chunk(chunk, base_decode, decode, n_batch, max_outputs, tally)
        if on_chunk:
            on_chunk(i + 1, len(parts), tally.mean_kld)
    return tally, len(parts)


def spread(values: Sequence[float], fractions: Sequence[float]) -> Spread:
    ordered = sorted(values)
    return Spread(
        percentiles=tuple((f, percentile(ordered, f)) for f in fractions),
        maximum=ordered[-1],
        minimum=ordered[0],
    )


def covariance(a: Sequence[float], b: Sequence[float]) -> float:
    """llama-perplexity's covariance of two means: cov(a, b) / (n - 1), 0 below ten."""
    n = len(a)
    if n < 10:
        return 0.0
    mean_ab = math.fsum(x * y for x, y in zip(a, b, strict=True)) / n
    return (mean_ab - (math.fsum(a) / n) * (math.fsum(b) / n)) / (n - 1)


def summarise(tally: KldTally, **names) -> KlDivergence:
    """The report: `names` gives base_name, model_name, n_ctx, text_tokens, chunks, seconds."""
    n = len(tally.positions)
    if n < 2:
        raise ValueError("at least two scored positions are needed")
    nll, nll_base = tally.values("nll"), tally.values("nll_base")
    ln_ppl, ln_ppl_unc = mean_and_uncertainty(nll)
    ln_base, ln_base_unc = mean_and_uncertainty(nll_base)
    cov = covariance(nll, nll_base)
    correlation = cov / (ln_ppl_unc * ln_base_unc) if ln_ppl_unc and ln_base_unc else 0.0
    ratio_var = ln_ppl_unc**2 + ln_base_unc**2 - 2 * cov
    kld, kld_unc = mean_and_uncertainty(tally.values("kld"))
    delta_p = tally.values("delta_p")
    mean_dp, mean_dp_unc = mean_and_uncertainty(delta_p)
    mse, mse_unc = mean_and_uncertainty([d * d for d in delta_p])
    rms = math.sqrt(mse)
    same = sum(c.same_top for c in tally.positions) / n
    return KlDivergence(
        positions=n,
        ppl_base=math.exp(ln_base),
        ppl_base_uncertainty=math.exp(ln_base) * ln_base_unc,
        ppl=math.exp(ln_ppl),
        ppl_uncertainty=math.exp(ln_ppl) * ln_ppl_unc,
        ln_ppl_ratio=ln_ppl - ln_base,
        ln_ppl_ratio_uncertainty=math.sqrt(max(ratio_var, 0.0)),
        ppl_correlation=correlation,
        mean_kld=kld,
        mean_kld_uncertainty=kld_unc,
        kld=spread(tally.values("kld"), KLD_PERCENTILES),
        mean_delta_p=mean_dp,
        mean_delta_p_uncertainty=mean_dp_unc,
        rms_delta_p=rms,
        # d sqrt(x) = dx / (2 sqrt(x)), as llama.cpp propagates it
        rms_delta_p_uncertainty=0.5 / rms * mse_unc if rms > 0 else 0.0,
        delta_p=spread(delta_p, DELTA_P_PERCENTILES),
        same_top=same,
        same_top_uncertainty=math.sqrt(same * (1 - same) / (n - 1)),
        **names,
    )
