"""The percentile bootstrap over texts that the agreement and metric statistics share.

Every statistic here is a function of sums over texts (agreeing texts, category counts,
true positives, ...). A resample of texts drawn with replacement is therefore a vector of
counts, how often each text was drawn, and the resample's sums are that vector times the
per-text values. A matrix of such vectors (resamples × texts) turns 1000 resamples of every
label's statistic into a few matrix products instead of thousands of library calls.

A resample may leave a statistic undefined (a rare label drawn nowhere, so κ has one category):
such resamples are left out of the interval, which then describes the resamples in which the
statistic exists; with fewer than MIN_DEFINED_SHARE of them defined there is no interval.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidRequest
from core.evaluation.stats import SEED
from core.types.agreement import MetricValue

RESAMPLES = 1000
CONFIDENCE = 0.95
# An interval from fewer than this share of the resamples (the rest leaving the statistic
# undefined, e.g. a rare label drawn nowhere) would describe a different population.
MIN_DEFINED_SHARE = 0.5


def check_settings(resamples: int, confidence: float) -> None:
    if resamples < 0:
        raise InvalidRequest(
            f"The number of bootstrap resamples must be 0 or more, not {resamples}."
        )
    if not 0 < confidence < 1:
        raise InvalidRequest(f"The confidence level must lie between 0 and 1, not {confidence}.")


def resample_counts(n_texts: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """Resamples × texts: how often each text is drawn in each resample of n_texts texts drawn
    with replacement. The same seed and sizes give the same resamples."""
    rng = np.random.default_rng(seed)
    if n_texts == 0 or resamples == 0:
        return np.zeros((resamples, n_texts))
    drawn = rng.integers(0, n_texts, size=(resamples, n_texts))
    flat = drawn + np.arange(resamples)[:, None] * n_texts
    return (
        np.bincount(flat.ravel(), minlength=resamples * n_texts)
        .reshape(resamples, n_texts)
        .astype(float)
    )


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (undefined) where the denominator is zero."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    )
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=np.abs(denominator) > 1e-12)
    return out


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Mean of each row over its defined entries; NaN for a row with none."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    return ratio(total, count)


def estimate(
    point: float | None,
    draws: np.ndarray,
    n: int,
    confidence: float = CONFIDENCE,
    reason: str | None = None,
) -> MetricValue:
    """A point value with the percentile interval of its resampled values (NaN = undefined)."""
    if point is None or not np.isfinite(point):
        return MetricValue.undefined(n, reason or "undefined for these texts")
    defined = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return MetricValue(float(point), None, None, n, "no resamples drawn")
    if len(defined) < max(2, MIN_DEFINED_SHARE * len(draws)):
        why = f"only {len(defined)} of {len(draws)} resamples define it, so no interval"
        return MetricValue(float(point), None, None, n, why)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    return MetricValue(float(point), float(low), float(high), n)
