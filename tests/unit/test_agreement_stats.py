"""Agreement between coders (core/evaluation/agreement.py): Cohen's κ, Fleiss' κ and
Krippendorff's α pinned on hand-worked examples, their bootstrap intervals checked against the
libraries run on each resample, degenerate data answered with None and a reason, and the
acceptance rate's Wilson interval."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidLabels, InvalidRequest
from core.evaluation.agreement import (
    acceptance_rates,
    cohen_agreement,
    group_agreement,
    label_table,
    pair_table,
    pairwise_cohen,
)
from core.evaluation.bootstrap import estimate, resample_counts
from core.evaluation.label_sets import labels_from_frame
from core.types.agreement import MetricValue

CODES = ("A", "B", "C")


def _single(*codes: str | None, prefix: str = "t") -> dict[str, frozenset[str]]:
    """Single-label sets for texts t01, t02, ... (None: the text was not coded)."""
    return {f"{prefix}{i:02d}": frozenset({c}) for i, c in enumerate(codes, 1) if c is not None}


def _values(record) -> list[MetricValue]:
    """Every MetricValue inside a record, however deeply nested."""
    found = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, MetricValue):
                found.append(item)
            elif dataclasses.is_dataclass(item):
                found += _values(item)
    return found


def _no_nan(record) -> None:
    for v in _values(record):
        for number in (v.value, v.low, v.high):
            assert number is None or math.isfinite(number), v


# Coder 1: A A A A A B B B C C; coder 2: A A A B B B B C C A.
# Agreeing texts: t1-t3 (A), t6-t7 (B), t9 (C): p_o = 6/10 = 0.6.
# Marginals: coder 1 A 5, B 3, C 2; coder 2 A 4, B 4, C 2.
# p_e = (5·4 + 3·4 + 2·2) / 10² = 36/100 = 0.36.  κ = (0.6 − 0.36) / (1 − 0.36) = 0.375.
# Label A alone (present/absent): coder 1 1111100000, coder 2 1110000001.
# p_o = 7/10 (t1-t3 both present, t6-t9 both absent); p(A) 0.5 and 0.4:
# p_e = 0.5·0.4 + 0.5·0.6 = 0.5;  κ_A = (0.7 − 0.5) / 0.5 = 0.4.
PAIR = {
    "one": _single(*"AAAAABBBCC"),
    "two": _single(*"AAABBBBCCA"),
}


def test_cohen_kappa_hand_worked_ten_texts():
    pair = cohen_agreement(PAIR, "one", "two", CODES, resamples=200)
    assert pair.kappa.value == pytest.approx(0.375, abs=1e-9)
    assert pair.kappa.n == 10
    assert pair.percent_agreement.value == pytest.approx(0.6, abs=1e-9)
    assert pair.basis.startswith("single-label: nominal")
    per_label = {one.label: one.kappa for one in pair.per_label}
    assert per_label["A"].value == pytest.approx(0.4, abs=1e-9)


def test_cohen_counts_only_texts_both_coded():
    labels = {"one": PAIR["one"] | {"extra": frozenset({"A"})}, "two": PAIR["two"]}
    labels["two"] = labels["two"] | {"lonely": frozenset({"B"})}
    pair = cohen_agreement(labels, "one", "two", CODES, resamples=0)
    assert pair.kappa.n == 10
    assert pair.kappa.value == pytest.approx(0.375, abs=1e-9)
    assert pair.kappa.low is None and "no resamples" in pair.kappa.reason


def test_multi_label_pair_is_a_macro_mean_over_defined_labels():
    # Per label (present/absent over 4 texts):
    # A: 1100 vs 1100 → p_o 1, p_e 0.5 → κ 1.
    # B: 1000 vs 0110 → p_o 1/4; p 1/4 and 1/2: p_e = 1/8 + 3/8 = 1/2 → κ = −1/2.
    # C: 0001 vs 0001 → κ 1.  D: never used → undefined, left out of the mean.
    # Macro κ = (1 − 1/2 + 1) / 3 = 1/2.  Same label set on t4 only: 1/4.
    labels = {
        "one": {
            "t1": frozenset("AB"),
            "t2": frozenset("A"),
            "t3": frozenset(),
            "t4": frozenset("C"),
        },
        "two": {
            "t1": frozenset("A"),
            "t2": frozenset("AB"),
            "t3": frozenset("B"),
            "t4": frozenset("C"),
        },
    }
    pair = cohen_agreement(labels, "one", "two", "ABCD", resamples=100)
    assert pair.kappa.value == pytest.approx(0.5, abs=1e-9)
    assert pair.percent_agreement.value == pytest.approx(0.25, abs=1e-9)
    assert "multi-label" in pair.basis and "3 of 4 labels" in pair.basis
    per_label = {one.label: one.kappa for one in pair.per_label}
    assert per_label["B"].value == pytest.approx(-0.5, abs=1e-9)
    assert per_label["D"].value is None and "chance agreement is 1" in per_label["D"].reason
    _no_nan(pair)


# Fleiss' κ, 5 texts × 3 coders, categories A B C. Counts per text and
# P_i = (Σ_j n_ij² − 3) / (3·2):
#   t1 A A A (3,0,0) P = 1;  t2 A A B (2,1,0) P = 1/3;  t3 B B B (0,3,0) P = 1;
#   t4 B C C (0,1,2) P = 1/3;  t5 A B C (1,1,1) P = 0.
# P̄ = (8/3) / 5 = 8/15.  Column totals A 6, B 6, C 3 of 15: p = (0.4, 0.4, 0.2),
# P_e = 0.16 + 0.16 + 0.04 = 0.36 = 9/25.  κ = (8/15 − 9/25) / (16/25) = 13/48.
# Label A alone: counts (A, not A) (3,0) (2,1) (0,3) (0,3) (1,2): P = 1, 1/3, 1, 1, 1/3,
# P̄ = 11/15; p(A) = 0.4: P_e = 0.16 + 0.36 = 13/25; κ_A = (11/15 − 13/25) / (12/25) = 4/9.
GROUP = {
    "r1": _single(*"AABBA"),
    "r2": _single(*"AABCB"),
    "r3": _single(*"ABBCC"),
}


def test_fleiss_kappa_hand_worked_table():
    group = group_agreement(GROUP, ["r1", "r2", "r3"], CODES, resamples=200)
    assert group.fleiss_kappa.value == pytest.approx(13 / 48, abs=1e-9)
    assert group.fleiss_kappa.n == 5
    per_label = {one.label: one for one in group.per_label}
    assert per_label["A"].fleiss_kappa.value == pytest.approx(4 / 9, abs=1e-9)


# Krippendorff's α (nominal), 3 coders, 4 texts, coder r3 did not code t2:
#   t1 A A A;  t2 A B –;  t3 B B B;  t4 B C C.
# Coincidences: each ordered pair of codes from different coders in a text adds 1/(m_u − 1):
#   t1 6 pairs (A,A) × 1/2 → o_AA 3;  t2 (A,B), (B,A) × 1 → o_AB 1, o_BA 1;
#   t3 → o_BB 3;  t4 (B,C)×2, (C,B)×2, (C,C)×2, × 1/2 → o_BC 1, o_CB 1, o_CC 1.
#        A  B  C
#   A    3  1  0    n_A 4
#   B    1  3  1    n_B 5
#   C    0  1  1    n_C 2      n.. = 11
# α = 1 − (n.. − 1) Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k = 1 − 10 · 4 / (121 − 45) = 1 − 40/76 = 9/19.
# Label B alone (1 = B): t1 000, t2 01–, t3 111, t4 100 → o_00 4, o_01 2, o_10 2, o_11 3,
# n_0 6, n_1 5: α_B = 1 − 10 · 4 / (121 − 61) = 1/3.
# Fleiss' κ counts t1, t3, t4 only: P_i 1, 1, 1/3 → P̄ 7/9; p = (3, 4, 2)/9, P_e = 29/81;
# κ = (7/9 − 29/81) / (52/81) = 34/52 = 17/26.
MISSING = {
    "r1": _single(*"AABB"),
    "r2": _single(*"ABBC"),
    "r3": _single("A", None, "B", "C"),
}


def test_krippendorff_alpha_hand_worked_with_a_missing_code():
    import krippendorff

    group = group_agreement(MISSING, ["r1", "r2", "r3"], CODES, resamples=200)
    assert group.krippendorff_alpha.value == pytest.approx(9 / 19, abs=1e-9)
    assert group.krippendorff_alpha.n == 4
    assert group.fleiss_kappa.value == pytest.approx(17 / 26, abs=1e-9)
    assert group.fleiss_kappa.n == 3
    per_label = {one.label: one for one in group.per_label}
    assert per_label["B"].krippendorff_alpha.value == pytest.approx(1 / 3, abs=1e-9)
    nan = np.nan
    package = krippendorff.alpha(
        reliability_data=[[0, 0, 1, 1], [0, 1, 1, 2], [0, nan, 1, 2]],
        level_of_measurement="nominal",
    )
    assert package == pytest.approx(9 / 19, abs=1e-9)


def _random_coders(n: int, coders: int, seed: int, missing: float = 0.0) -> dict:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    labels = {}
    for c in range(coders):
        codes = np.where(rng.random(n) < 0.35, rng.integers(0, 3, n), truth)
        skip = rng.random(n) < missing
        labels[f"c{c}"] = {
            f"t{i:03d}": frozenset({CODES[v]}) for i, v in enumerate(codes) if not skip[i]
        }
    return labels


def _percentiles(values: list[float]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def test_cohen_interval_is_the_percentiles_of_sklearn_on_each_resample():
    from sklearn.metrics import cohen_kappa_score

    labels = _random_coders(60, 2, seed=3)
    pair = cohen_agreement(labels, "c0", "c1", CODES, resamples=40, seed=11)
    texts = sorted(labels["c0"])  # the texts, in the order resamples index them
    a = [next(iter(labels["c0"][t])) for t in texts]
    b = [next(iter(labels["c1"][t])) for t in texts]
    draws = [
        cohen_kappa_score(np.repeat(a, counts.astype(int)), np.repeat(b, counts.astype(int)))
        for counts in resample_counts(len(texts), 40, 11)
    ]
    assert (pair.kappa.low, pair.kappa.high) == pytest.approx(_percentiles(draws), abs=1e-12)


def test_group_intervals_are_the_percentiles_of_the_libraries_on_each_resample():
    import krippendorff
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    labels = _random_coders(50, 3, seed=5, missing=0.2)
    group = group_agreement(labels, ["c0", "c1", "c2"], CODES, resamples=30, seed=7)
    texts = sorted(set().union(*labels.values()))
    index = {code: i for i, code in enumerate(CODES)}
    codes = np.array(
        [
            [index[next(iter(labels[c][t]))] if t in labels[c] else np.nan for t in texts]
            for c in ("c0", "c1", "c2")
        ]
    )
    complete = codes[:, ~np.isnan(codes).any(axis=0)]
    pairable = codes[:, (~np.isnan(codes)).sum(axis=0) >= 2]
    fleiss_draws = [
        fleiss_kappa(
            aggregate_raters(np.repeat(complete, w.astype(int), axis=1).T.astype(int), 3)[0]
        )
        for w in resample_counts(complete.shape[1], 30, 7)
    ]
    alpha_draws = [
        krippendorff.alpha(
            reliability_data=np.repeat(pairable, w.astype(int), axis=1),
            level_of_measurement="nominal",
            value_domain=[0, 1, 2],
        )
        for w in resample_counts(pairable.shape[1], 30, 7)
    ]
    assert group.fleiss_kappa.n == complete.shape[1] < 50
    assert group.krippendorff_alpha.n == pairable.shape[1]
    assert (group.fleiss_kappa.low, group.fleiss_kappa.high) == pytest.approx(
        _percentiles(fleiss_draws), abs=1e-9
    )
    assert (group.krippendorff_alpha.low, group.krippendorff_alpha.high) == pytest.approx(
        _percentiles(alpha_draws), abs=1e-9
    )


def _copies(labels: dict, times: int) -> dict:
    """The same codings repeated on `times` sets of fresh text ids: same κ, more texts."""
    return {
        coder: {f"{t}-{k}": codes for k in range(times) for t, codes in sets.items()}
        for coder, sets in labels.items()
    }


def test_intervals_contain_the_estimate_repeat_with_the_seed_and_narrow_with_more_texts():
    small = cohen_agreement(PAIR, "one", "two", CODES, resamples=300)
    again = cohen_agreement(PAIR, "one", "two", CODES, resamples=300)
    other_seed = cohen_agreement(PAIR, "one", "two", CODES, resamples=300, seed=1)
    large = cohen_agreement(_copies(PAIR, 10), "one", "two", CODES, resamples=300)
    assert small == again
    assert (small.kappa.low, small.kappa.high) != (other_seed.kappa.low, other_seed.kappa.high)
    assert large.kappa.value == pytest.approx(small.kappa.value, abs=1e-9)
    for result in (small, large):
        assert result.kappa.low <= result.kappa.value <= result.kappa.high
    assert large.kappa.high - large.kappa.low < small.kappa.high - small.kappa.low
    big_group = group_agreement(_copies(GROUP, 10), ["r1", "r2", "r3"], CODES, resamples=300)
    group = group_agreement(GROUP, ["r1", "r2", "r3"], CODES, resamples=300)
    for stat in ("fleiss_kappa", "krippendorff_alpha"):
        few, many = getattr(group, stat), getattr(big_group, stat)
        assert many.low <= many.value <= many.high
        assert many.high - many.low < few.high - few.low


def test_degenerate_data_give_none_with_a_reason():
    one_text = cohen_agreement(
        {"a": _single("A", "B"), "b": _single("A", None)}, "a", "b", CODES, resamples=50
    )
    assert one_text.kappa.value is None and "1 text(s) coded by both" in one_text.kappa.reason
    same = cohen_agreement({"a": _single(*"AAAA"), "b": _single(*"AAAA")}, "a", "b", CODES)
    assert same.kappa.value is None and "'A'" in same.kappa.reason
    assert same.percent_agreement.value == 1.0
    nobody = cohen_agreement({"a": _single("A"), "b": _single(None, "B")}, "a", "b", CODES)
    assert nobody.kappa.n == 0 and nobody.percent_agreement.value is None
    alone = group_agreement(GROUP, ["r1"], CODES)
    assert alone.fleiss_kappa.value is None and "two or more" in alone.fleiss_kappa.reason
    constant = group_agreement(
        {"a": _single(*"BBB"), "b": _single(*"BBB"), "c": _single("B", None, "B")},
        ["a", "b", "c"],
        CODES,
        resamples=50,
    )
    assert constant.krippendorff_alpha.value is None
    assert "chance agreement is 1" in constant.krippendorff_alpha.reason
    for record in (one_text, same, nobody, alone, constant):
        _no_nan(record)


def test_an_interval_needs_most_resamples_to_define_the_statistic():
    draws = np.array([0.2, 0.4, 0.6] + [np.nan] * 7)  # 3 of 10 resamples define it
    value = estimate(0.5, draws, 12)
    assert (value.value, value.low, value.high) == (0.5, None, None)
    assert "only 3 of 10 resamples" in value.reason
    enough = estimate(0.5, np.array([0.2, 0.4, 0.6, 0.8, 1.0, np.nan]), 12)
    assert (enough.low, enough.high) == pytest.approx(_percentiles([0.2, 0.4, 0.6, 0.8, 1.0]))


def test_pairwise_table_covers_every_pair_once():
    labels = _random_coders(30, 3, seed=1)
    pairs = pairwise_cohen(labels, ["c0", "c1", "c2"], CODES, resamples=20)
    assert [(p.coder_a, p.coder_b) for p in pairs] == [("c0", "c1"), ("c0", "c2"), ("c1", "c2")]
    table = pair_table(pairs)
    assert list(table["kappa"]) == [p.kappa.value for p in pairs]
    assert {"kappa_low", "kappa_high", "kappa_n", "percent_agreement"} <= set(table.columns)
    assert len(label_table(pairs)) == 3 * len(CODES)


def test_bad_labels_are_domain_errors():
    with pytest.raises(InvalidLabels, match=r"label\(s\) Z, which the codebook"):
        cohen_agreement({"a": _single("Z", "A"), "b": _single("A", "A")}, "a", "b", CODES)
    with pytest.raises(InvalidLabels, match="2 labels in single-label"):
        cohen_agreement(
            {"a": {"t": frozenset("AB")}, "b": {"t": frozenset("A")}},
            "a",
            "b",
            CODES,
            multi_label=False,
        )
    with pytest.raises(InvalidLabels, match="'nobody'"):
        pairwise_cohen(PAIR, ["one", "nobody"], CODES)
    with pytest.raises(InvalidRequest, match="resamples"):
        cohen_agreement(PAIR, "one", "two", CODES, resamples=-1)


def test_labels_from_a_long_table():
    frame = pd.DataFrame(
        {
            "coder": ["ann", "ann", "ann", "bob"],
            "text_id": ["t1", "t1", "t2", "t1"],
            "label": ["A", "B", None, "A"],
        }
    )
    assert labels_from_frame(frame) == {
        "ann": {"t1": frozenset("AB"), "t2": frozenset()},
        "bob": {"t1": frozenset("A")},
    }
    with pytest.raises(InvalidLabels, match="'code'"):
        labels_from_frame(frame, label="code")


def test_acceptance_rate_with_a_wilson_interval():
    # 76 of 100 accepted (GPT-4's rate in Carammia, Iacus & Porro). z = 1.959964:
    # shrink = 1 + z²/100 = 1.0384146; centre = (0.76 + z²/200) / shrink = 0.750381;
    # half = z / shrink · sqrt(0.76·0.24/100 + z²/40000) = 0.082705 → [0.66768, 0.83309].
    rates = acceptance_rates({"big": [True] * 76 + [False] * 24, "none": []})
    big, none = rates
    assert (big.model, big.accepted, big.rate.n) == ("big", 76, 100)
    assert big.rate.value == pytest.approx(0.76)
    assert big.rate.low == pytest.approx(0.66768, abs=2e-5)
    assert big.rate.high == pytest.approx(0.83309, abs=2e-5)
    assert none.rate.value is None and none.rate.n == 0
