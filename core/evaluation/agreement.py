"""How far coders agree, people or models: Cohen's κ for a pair, Fleiss' κ and Krippendorff's α
(nominal) for a group, overall and per label, each with a percentile-bootstrap interval over
texts; and the acceptance rate of a model's proposals with a Wilson interval.

Input: `CoderLabels` and the codebook's codes (core/evaluation/label_sets.py says exactly what
counts as coded). Which coders to compare is the caller's choice: two reviewers, each model
against the verified labels (put them in as one more coder), or the models among themselves.

- Single-label data: the statistic of the nominal label per text.
- Multi-label data: each label is a presence/absence variable per text, and the overall value
  is the unweighted mean (macro average) of the per-label values over the labels where the
  value is defined; the record's `basis` says which it is and over how many labels.
- Per label, in both cases: the statistic of that label's presence/absence.

Texts counted: Cohen's κ, the texts both coders coded; Fleiss' κ, the texts every coder coded;
Krippendorff's α, the texts at least two coders coded (α allows missing codes).

Point values come from scikit-learn, statsmodels and the `krippendorff` package. The bootstrap
recomputes the same formulas from count sums over resampled texts (core/evaluation/bootstrap.py),
which the unit tests check against those libraries. A statistic the data leave undefined (one
category only, fewer than MIN_TEXTS texts) is None with the reason, never NaN.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.evaluation import bootstrap
from core.evaluation.label_sets import (
    CoderLabels,
    check_universe,
    coded,
    coders_of,
    infer_multi_label,
    presence,
)
from core.evaluation.stats import SEED, wilson_ci
from core.types.agreement import (
    AcceptanceRate,
    GroupAgreement,
    LabelAgreement,
    LabelGroupAgreement,
    MetricValue,
    PairAgreement,
)

MIN_TEXTS = 2  # a chance-corrected agreement from one text says nothing


@dataclass(frozen=True)
class _Scored:
    """A statistic's value and its resampled values (NaN where a resample leaves it undefined)."""

    value: MetricValue
    draws: np.ndarray


@dataclass
class _Settings:
    """The bootstrap settings of one call, and its resamples: every statistic over the same
    texts (each label's, the overall one) uses the same resamples."""

    resamples: int
    seed: int
    confidence: float
    drawn: dict[int, np.ndarray] = field(default_factory=dict)

    def counts(self, n_texts: int) -> np.ndarray:
        if n_texts not in self.drawn:
            self.drawn[n_texts] = bootstrap.resample_counts(n_texts, self.resamples, self.seed)
        return self.drawn[n_texts]


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    """Category indices (NaN = not coded) to indicator rows; a missing code is all zeros."""
    codes = np.asarray(codes, dtype=float)
    known = ~np.isnan(codes)
    out = np.zeros((*codes.shape, k))
    out[known, codes[known].astype(int)] = 1.0
    return out


def _undefined(n: int, reason: str, resamples: int) -> _Scored:
    return _Scored(MetricValue.undefined(n, reason), np.full(resamples, np.nan))


def _one_category(used: np.ndarray, names: Sequence[str]) -> str:
    return f"every code given is {names[int(used[0])]!r}, so chance agreement is 1"


def _cohen(a: np.ndarray, b: np.ndarray, names: Sequence[str], s: _Settings) -> _Scored:
    """Cohen's κ of two coders' category indices on the same texts: (p_o − p_e) / (1 − p_e)."""
    n, k = len(a), len(names)
    if n < MIN_TEXTS:
        return _undefined(n, f"{n} text(s) coded by both; κ needs {MIN_TEXTS}", s.resamples)
    used = np.union1d(a, b)
    if len(used) < 2:
        return _undefined(n, _one_category(used, names), s.resamples)
    from sklearn.metrics import cohen_kappa_score

    point = float(cohen_kappa_score(a, b, labels=list(range(k))))
    hot_a, hot_b = _one_hot(a, k), _one_hot(b, k)
    w = s.counts(n)
    observed = w @ (hot_a * hot_b).sum(axis=1) / n
    chance = ((w @ hot_a) * (w @ hot_b)).sum(axis=1) / n**2
    draws = bootstrap.ratio(observed - chance, 1 - chance)
    return _Scored(bootstrap.estimate(point, draws, n, s.confidence), draws)


def _fleiss(codes: np.ndarray, names: Sequence[str], s: _Settings) -> _Scored:
    """Fleiss' κ of coders × texts category indices, every text coded by every coder."""
    m, n = codes.shape
    k = len(names)
    if n < MIN_TEXTS:
        return _undefined(n, f"{n} text(s) coded by every coder; κ needs {MIN_TEXTS}", s.resamples)
    used = np.unique(codes)
    if len(used) < 2:
        return _undefined(n, _one_category(used, names), s.resamples)
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    table, _ = aggregate_raters(codes.T.astype(int), n_cat=k)
    point = float(fleiss_kappa(table, method="fleiss"))
    # P_i: the share of agreeing coder pairs on text i; p_j: the share of all codes in j.
    pair_share = ((table**2).sum(axis=1) - m) / (m * (m - 1))
    w = s.counts(n)
    observed = w @ pair_share / n
    chance = ((w @ table / (n * m)) ** 2).sum(axis=1)
    draws = bootstrap.ratio(observed - chance, 1 - chance)
    return _Scored(bootstrap.estimate(point, draws, n, s.confidence), draws)


def _alpha(codes: np.ndarray, names: Sequence[str], s: _Settings) -> _Scored:
    """Krippendorff's α (nominal) of coders × texts category indices, NaN where not coded;
    every text here has at least two codes."""
    n, k = codes.shape[1], len(names)
    if n < MIN_TEXTS:
        return _undefined(
            n, f"{n} text(s) coded by two coders or more; α needs {MIN_TEXTS}", s.resamples
        )
    used = np.unique(codes[~np.isnan(codes)])
    if len(used) < 2:
        return _undefined(n, _one_category(used, names), s.resamples)
    import krippendorff

    point = float(
        krippendorff.alpha(
            reliability_data=codes, level_of_measurement="nominal", value_domain=list(range(k))
        )
    )
    # α = 1 − (n.. − 1) Σ_u D_u / (n..² − Σ_c n_c²), D_u = (m_u² − Σ_c n_uc²) / (m_u − 1):
    # the off-diagonal mass of the coincidence matrix against that expected by chance.
    per_text = _one_hot(codes, k).sum(axis=0)  # texts × categories
    coders_per_text = per_text.sum(axis=1)
    disagreement = (coders_per_text**2 - (per_text**2).sum(axis=1)) / (coders_per_text - 1)
    w = s.counts(n)
    by_category = w @ per_text
    total = by_category.sum(axis=1)
    expected = total**2 - (by_category**2).sum(axis=1)
    draws = 1 - bootstrap.ratio((total - 1) * (w @ disagreement), expected)
    return _Scored(bootstrap.estimate(point, draws, n, s.confidence), draws)


def _macro(scored: Sequence[_Scored], n: int, what: str, s: _Settings) -> tuple[_Scored, int]:
    """The mean over labels of a per-label statistic, over the labels where it is defined."""
    defined = [one for one in scored if one.value.value is not None]
    if not defined:
        return _undefined(n, f"no label has a defined {what}", s.resamples), 0
    point = float(np.mean([one.value.value for one in defined]))
    draws = bootstrap.nanmean_rows(np.column_stack([one.draws for one in defined]))
    return _Scored(bootstrap.estimate(point, draws, n, s.confidence), draws), len(defined)


def _binary_names(label: str) -> tuple[str, str]:
    return (f"not {label}", label)


def _multi_label(labels: CoderLabels, coders: Sequence[str], multi_label: bool | None) -> bool:
    if multi_label is not None:
        return multi_label
    return infer_multi_label(labels[c] for c in coders)


def _basis(multi: bool, universe: Sequence[str], defined: Mapping[str, int]) -> str:
    if not multi:
        return f"single-label: nominal label per text over {len(universe)} categories"
    basis = "multi-label: mean of per-label presence/absence agreement"
    counts = ", ".join(f"{what} over {k} of {len(universe)} labels" for what, k in defined.items())
    return f"{basis} ({counts})" if counts else basis


def cohen_agreement(
    labels: CoderLabels,
    coder_a: str,
    coder_b: str,
    universe: Sequence[str],
    *,
    multi_label: bool | None = None,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = SEED,
    confidence: float = bootstrap.CONFIDENCE,
) -> PairAgreement:
    """Cohen's κ between two coders on the texts both coded, overall and per label."""
    universe = check_universe(universe)
    coders_of(labels, (coder_a, coder_b))
    bootstrap.check_settings(resamples, confidence)
    s = _Settings(resamples, seed, confidence)
    multi = _multi_label(labels, (coder_a, coder_b), multi_label)
    a = coded(labels[coder_a], universe, multi, coder_a)
    b = coded(labels[coder_b], universe, multi, coder_b)
    texts = sorted(a.keys() & b.keys())
    n = len(texts)
    has_a, has_b = presence(a, texts, universe), presence(b, texts, universe)
    per_label = [
        _cohen(has_a[:, j].astype(int), has_b[:, j].astype(int), _binary_names(code), s)
        for j, code in enumerate(universe)
    ]
    if multi:
        overall, defined = _macro(per_label, n, "κ", s)
    else:
        overall, defined = _cohen(has_a.argmax(axis=1), has_b.argmax(axis=1), universe, s), 0
    same = (has_a == has_b).all(axis=1).astype(float)
    if n:
        draws = s.counts(n) @ same / n
        percent = bootstrap.estimate(float(same.mean()), draws, n, confidence)
    else:
        percent = MetricValue.undefined(0, "no text coded by both")
    return PairAgreement(
        coder_a=coder_a,
        coder_b=coder_b,
        basis=_basis(multi, universe, {"κ": defined}),
        kappa=overall.value,
        percent_agreement=percent,
        per_label=tuple(
            LabelAgreement(code, one.value) for code, one in zip(universe, per_label, strict=True)
        ),
    )


def pairwise_cohen(
    labels: CoderLabels,
    coders: Sequence[str],
    universe: Sequence[str],
    *,
    multi_label: bool | None = None,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = SEED,
    confidence: float = bootstrap.CONFIDENCE,
) -> tuple[PairAgreement, ...]:
    """Cohen's κ for every pair of the given coders, in the order they are listed."""
    coders = coders_of(labels, coders)
    if multi_label is None:  # one decision for all pairs, so that their bases match
        multi_label = _multi_label(labels, coders, None)
    return tuple(
        cohen_agreement(
            labels,
            a,
            b,
            universe,
            multi_label=multi_label,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
        )
        for a, b in itertools.combinations(coders, 2)
    )


def group_agreement(
    labels: CoderLabels,
    coders: Sequence[str],
    universe: Sequence[str],
    *,
    multi_label: bool | None = None,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = SEED,
    confidence: float = bootstrap.CONFIDENCE,
) -> GroupAgreement:
    """Fleiss' κ (texts every coder coded) and Krippendorff's α (texts two or more coded)."""
    universe = check_universe(universe)
    coders = coders_of(labels, coders)
    bootstrap.check_settings(resamples, confidence)
    s = _Settings(resamples, seed, confidence)
    multi = _multi_label(labels, coders, multi_label)
    sets = {c: coded(labels[c], universe, multi, c) for c in coders}
    if len(coders) < 2:
        few = f"{len(coders)} coder(s) given; agreement needs two or more"
        none = MetricValue.undefined(0, few)
        per_label = tuple(LabelGroupAgreement(code, none, none) for code in universe)
        return GroupAgreement(coders, _basis(multi, universe, {}), none, none, per_label)
    texts = sorted(set().union(*sets.values()))
    is_coded = np.array([[t in sets[c] for t in texts] for c in coders], dtype=bool)
    empty: frozenset[str] = frozenset()
    has = np.stack(
        [presence({t: sets[c].get(t, empty) for t in texts}, texts, universe) for c in coders]
    )
    complete = is_coded.all(axis=0)
    pairable = is_coded.sum(axis=0) >= 2

    def both(codes: np.ndarray, names: Sequence[str]) -> tuple[_Scored, _Scored]:
        return _fleiss(codes[:, complete], names, s), _alpha(codes[:, pairable], names, s)

    def masked(values: np.ndarray) -> np.ndarray:
        return np.where(is_coded, values.astype(float), np.nan)

    per_label = [both(masked(has[:, :, j]), _binary_names(code)) for j, code in enumerate(universe)]
    if multi:
        fleiss, fleiss_k = _macro([f for f, _ in per_label], int(complete.sum()), "Fleiss' κ", s)
        alpha, alpha_k = _macro([a for _, a in per_label], int(pairable.sum()), "α", s)
        basis = _basis(True, universe, {"Fleiss' κ": fleiss_k, "α": alpha_k})
    else:
        fleiss, alpha = both(masked(has.argmax(axis=2)), universe)
        basis = _basis(False, universe, {})
    return GroupAgreement(
        coders=coders,
        basis=basis,
        fleiss_kappa=fleiss.value,
        krippendorff_alpha=alpha.value,
        per_label=tuple(
            LabelGroupAgreement(code, f.value, a.value)
            for code, (f, a) in zip(universe, per_label, strict=True)
        ),
    )


def acceptance_rates(
    decisions: Mapping[str, Sequence[bool]], confidence: float = bootstrap.CONFIDENCE
) -> tuple[AcceptanceRate, ...]:
    """Per model, the share of its reviewed proposals that were accepted (one bool each)."""
    bootstrap.check_settings(0, confidence)
    rates = []
    for model, accepted in decisions.items():
        flags = [bool(flag) for flag in accepted]
        if not flags:
            rate = MetricValue.undefined(0, "no reviewed proposals")
        else:
            est = wilson_ci(sum(flags), len(flags), confidence)
            rate = MetricValue(est.value, est.low, est.high, est.n)
        rates.append(AcceptanceRate(model, sum(flags), rate))
    return tuple(rates)


def pair_table(pairs: Sequence[PairAgreement]) -> pd.DataFrame:
    """One row per pair: κ and percent agreement with intervals, for pages and export."""
    rows = [
        {"coder_a": p.coder_a, "coder_b": p.coder_b, "basis": p.basis}
        | p.kappa.as_dict("kappa")
        | p.percent_agreement.as_dict("percent_agreement")
        for p in pairs
    ]
    return pd.DataFrame(rows)


def label_table(pairs: Sequence[PairAgreement]) -> pd.DataFrame:
    """One row per pair and label: the per-label κ with its interval, or why it is missing."""
    rows = [
        {"coder_a": p.coder_a, "coder_b": p.coder_b, "label": one.label}
        | one.kappa.as_dict("kappa")
        | {"reason": one.kappa.reason}
        for p in pairs
        for one in p.per_label
    ]
    return pd.DataFrame(rows)
