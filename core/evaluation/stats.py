"""Statistics with their uncertainty: bootstrap confidence intervals (seeded, so a report is
reproducible) and Bradley-Terry ratings from pairwise outcomes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEED = 20231206
ELO_SCALE = 400 / math.log(10)  # a 400-point gap means 10:1 odds, as in Elo
ELO_BASE = 1000.0


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self, prefix: str) -> dict[str, float | int | None]:
        return {
            prefix: self.value,
            f"{prefix}_low": self.low,
            f"{prefix}_high": self.high,
            f"{prefix}_n": self.n,
        }


def mean_ci(
    values: Sequence[float], confidence: float = 0.95, seed: int = SEED, n_resamples: int = 2000
) -> Estimate:
    """Mean with a percentile-bootstrap confidence interval; no interval below two values."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if len(data) == 0:
        return Estimate(None, None, None, 0)
    mean = float(data.mean())
    if len(data) < 2 or np.all(data == data[0]):
        return Estimate(
            mean, mean if len(data) >= 2 else None, mean if len(data) >= 2 else None, len(data)
        )
    from scipy.stats import bootstrap

    ci = bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return Estimate(mean, float(ci.low), float(ci.high), len(data))


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """A proportion with its Wilson score interval, which stays inside [0, 1] and is not
    empty at 0 or n successes, unlike the normal approximation:
    centre = (p + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) · sqrt(p(1−p)/n + z²/4n²)."""
    if n <= 0:
        return Estimate(None, None, None, 0)
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    shrink = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z / shrink * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def _bt_fit(n_items: int, wins: list[tuple[int, int]]) -> np.ndarray:
    import choix

    # A little regularisation keeps the fit finite when one side never loses.
    return choix.ilsr_pairwise(n_items, wins, alpha=0.01)


def _as_wins(outcomes: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    wins: list[tuple[int, int]] = []
    # Decisive outcomes count twice so that a tie, one win each way, weighs half a win each.
    for left, right, outcome in outcomes:
        if outcome == "left":
            wins += [(left, right)] * 2
        elif outcome == "right":
            wins += [(right, left)] * 2
        else:
            wins += [(left, right), (right, left)]
    return wins


def bradley_terry(
    outcomes: Sequence[tuple[str, str, str]],
    confidence: float = 0.95,
    seed: int = SEED,
    n_resamples: int = 300,
) -> dict[str, Estimate]:
    """Ratings on an Elo-like scale (mean 1000) with seeded bootstrap intervals.
    outcomes: (left, right, "left" | "right" | "tie")."""
    names = sorted({o[0] for o in outcomes} | {o[1] for o in outcomes})
    if len(names) < 2:
        return {}
    index = {name: i for i, name in enumerate(names)}
    coded = [(index[a], index[b], r) for a, b, r in outcomes]

    def rate(sample: Sequence[tuple[int, int, str]]) -> np.ndarray:
        theta = _bt_fit(len(names), _as_wins(sample))
        return ELO_BASE + ELO_SCALE * (theta - theta.mean())

    point = rate(coded)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            rate([coded[i] for i in rng.integers(0, len(coded), len(coded))])
            for _ in range(n_resamples)
        ]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    counts = {name: sum(1 for a, b, _ in outcomes if name in (a, b)) for name in names}
    return {
        name: Estimate(float(point[i]), float(low[i]), float(high[i]), counts[name])
        for name, i in index.items()
    }
