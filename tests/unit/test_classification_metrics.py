"""A model's labels against reference labels (core/evaluation/classification_metrics.py):
every metric pinned on a hand-worked single-label and multi-label example, cross-checked
against scikit-learn on each bootstrap resample, the confusion matrix, the hierarchy roll-up,
and degenerate data answered with None and a reason."""

import math

import numpy as np
import pytest

from core.errors import InvalidLabels
from core.evaluation.bootstrap import resample_counts
from core.evaluation.classification_metrics import (
    NO_OVERLAP,
    category_table,
    metrics_by_model,
    model_metrics,
    overall_table,
)
from core.evaluation.label_sets import roll_up, roll_up_codes
from core.types.agreement import NO_ANSWER, OVERALL_METRICS

# Single-label, codebook A B C D (D never used). t7 has no answer, so n = 6:
#   t1 A→A  t2 A→A  t3 A→B  t4 B→B  t5 B→C  t6 C→C  (t7 C→ none)
# Correct: t1 t2 t4 t6 → accuracy = exact match = micro F1 = Jaccard = 4/6; Hamming 2/6.
#        tp fn fp tn   sensitivity  specificity  precision  F1               balanced
#   A    2  1  0  3    2/3          1            1          4/(4+0+1) = 4/5  5/6
#   B    1  1  1  3    1/2          3/4          1/2        2/(2+1+1) = 1/2  5/8
#   C    1  0  1  4    1            4/5          1/2        2/(2+1+0) = 2/3  9/10
#   D    0  0  0  6    –            1            –          –                –
# Macro F1 = (4/5 + 1/2 + 2/3) / 3 = 59/90 (D is in neither, so has no F1).
# Balanced accuracy = mean sensitivity over A B C (D absent from the reference) = 13/18.
SINGLE_CODES = ("A", "B", "C", "D")
SINGLE_REF = {f"t{i}": frozenset(c) for i, c in enumerate("AAABBCC", 1)}
SINGLE_PRED = {f"t{i}": frozenset(c) for i, c in enumerate("AABBCC", 1)}


def test_single_label_metrics_hand_worked():
    m = model_metrics(SINGLE_REF, SINGLE_PRED, SINGLE_CODES, model="m", resamples=200)
    assert (m.n, m.unanswered, m.multi_label) == (6, 1, False)
    expected = {
        "accuracy": 4 / 6,
        "exact_match": 4 / 6,
        "micro_f1": 4 / 6,
        "jaccard": 4 / 6,
        "hamming_loss": 2 / 6,
        "macro_f1": 59 / 90,
        "balanced_accuracy": 13 / 18,
    }
    assert set(m.overall) == set(OVERALL_METRICS)
    for name, value in expected.items():
        assert m.overall[name].value == pytest.approx(value, abs=1e-12), name
        assert m.overall[name].n == 6
    by_label = {c.label: c for c in m.per_category}
    a, b, c, d = (by_label[x] for x in "ABCD")
    assert (a.support, a.predicted, b.support, b.predicted) == (3, 2, 2, 2)
    table = {
        "A": (2 / 3, 1, 1, 4 / 5, 5 / 6),
        "B": (1 / 2, 3 / 4, 1 / 2, 1 / 2, 5 / 8),
        "C": (1, 4 / 5, 1 / 2, 2 / 3, 9 / 10),
    }
    for label, values in table.items():
        got = by_label[label]
        metrics = (got.sensitivity, got.specificity, got.precision, got.f1, got.balanced_accuracy)
        assert [v.value for v in metrics] == pytest.approx(values, abs=1e-12), label
    assert d.support == 0 and d.specificity.value == 1.0
    assert d.sensitivity.value is None and "no reference text" in d.sensitivity.reason
    assert d.precision.value is None and "never gave" in d.precision.reason
    assert d.f1.value is None and d.balanced_accuracy.value is None


def test_single_label_confusion_matrix_with_a_no_answer_column():
    m = model_metrics(SINGLE_REF, SINGLE_PRED, SINGLE_CODES, resamples=0)
    assert list(m.confusion.index) == list(SINGLE_CODES)
    assert list(m.confusion.columns) == [*SINGLE_CODES, NO_ANSWER]
    assert m.confusion.values.tolist() == [
        [2, 1, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 1, 0, 1],
        [0, 0, 0, 0, 0],
    ]


# Multi-label, codebook A B C (L = 3), 4 texts:
#   t1 Y {A,B} P {A}     wrong labels 1/3  exact no   Jaccard 1/2
#   t2 Y {C}   P {C}     0                 yes        1
#   t3 Y {A}   P {B,C}   3/3               no         0/3
#   t4 Y {}    P {}      0                 yes        1 (both empty)
# Hamming = (1/3 + 0 + 1 + 0) / 4 = 1/3, accuracy = 2/3, exact match 1/2, Jaccard 5/8.
#        tp fn fp tn   sensitivity  specificity  precision  F1    balanced
#   A    1  1  0  2    1/2          1            1          2/3   3/4
#   B    0  1  1  2    0            2/3          0          0     1/3
#   C    1  0  1  2    1            2/3          1/2        2/3   5/6
# Macro F1 = 4/9; micro F1 = 2·2 / (2·2 + 2 + 2) = 1/2; balanced accuracy = 23/36.
MULTI_REF = {"t1": frozenset("AB"), "t2": frozenset("C"), "t3": frozenset("A"), "t4": frozenset()}
MULTI_PRED = {"t1": frozenset("A"), "t2": frozenset("C"), "t3": frozenset("BC"), "t4": frozenset()}


def test_multi_label_metrics_hand_worked():
    m = model_metrics(MULTI_REF, MULTI_PRED, "ABC", resamples=100)
    assert (m.n, m.multi_label, m.confusion) == (4, True, None)
    expected = {
        "hamming_loss": 1 / 3,
        "accuracy": 2 / 3,
        "exact_match": 1 / 2,
        "jaccard": 5 / 8,
        "macro_f1": 4 / 9,
        "micro_f1": 1 / 2,
        "balanced_accuracy": 23 / 36,
    }
    for name, value in expected.items():
        assert m.overall[name].value == pytest.approx(value, abs=1e-12), name
    table = {
        "A": (1 / 2, 1, 1, 2 / 3, 3 / 4),
        "B": (0, 2 / 3, 0, 0, 1 / 3),
        "C": (1, 2 / 3, 1 / 2, 2 / 3, 5 / 6),
    }
    for got in m.per_category:
        metrics = (got.sensitivity, got.specificity, got.precision, got.f1, got.balanced_accuracy)
        assert [v.value for v in metrics] == pytest.approx(table[got.label], abs=1e-12)


def test_multi_label_metrics_agree_with_scikit_learn():
    from sklearn import metrics as sk

    y = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]])
    p = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 0]])
    m = model_metrics(MULTI_REF, MULTI_PRED, "ABC", resamples=0)
    assert m.overall["hamming_loss"].value == pytest.approx(sk.hamming_loss(y, p))
    assert m.overall["exact_match"].value == pytest.approx(sk.accuracy_score(y, p))
    assert m.overall["jaccard"].value == pytest.approx(
        sk.jaccard_score(y, p, average="samples", zero_division=1.0)
    )
    assert m.overall["macro_f1"].value == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert m.overall["micro_f1"].value == pytest.approx(sk.f1_score(y, p, average="micro"))


def _random_single(n: int, seed: int, error: float = 0.4) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n)
    guess = np.where(rng.random(n) < error, rng.integers(0, 4, n), truth)
    ref = {f"t{i:03d}": frozenset({SINGLE_CODES[v]}) for i, v in enumerate(truth)}
    pred = {f"t{i:03d}": frozenset({SINGLE_CODES[v]}) for i, v in enumerate(guess)}
    return ref, pred


def test_intervals_are_the_percentiles_of_scikit_learn_on_each_resample():
    from sklearn import metrics as sk

    ref, pred = _random_single(80, seed=2)
    m = model_metrics(ref, pred, SINGLE_CODES, resamples=40, seed=9)
    texts = sorted(ref)
    y = np.array([next(iter(ref[t])) for t in texts])
    p = np.array([next(iter(pred[t])) for t in texts])
    draws: dict[str, list[float]] = {"balanced_accuracy": [], "macro_f1": [], "recall_B": []}
    for w in resample_counts(len(texts), 40, 9).astype(int):
        ys, ps = np.repeat(y, w), np.repeat(p, w)
        draws["balanced_accuracy"].append(sk.balanced_accuracy_score(ys, ps))
        present = sorted(set(ys) | set(ps))
        draws["macro_f1"].append(sk.f1_score(ys, ps, labels=present, average="macro"))
        draws["recall_B"].append(sk.recall_score(ys, ps, labels=["B"], average="macro"))
    b = next(c for c in m.per_category if c.label == "B")
    got = {
        "balanced_accuracy": m.overall["balanced_accuracy"],
        "macro_f1": m.overall["macro_f1"],
        "recall_B": b.sensitivity,
    }
    for name, values in draws.items():
        expected = np.percentile(values, [2.5, 97.5])
        assert (got[name].low, got[name].high) == pytest.approx(tuple(expected), abs=1e-12), name
    assert m.overall["balanced_accuracy"].value == pytest.approx(
        sk.balanced_accuracy_score(y, p), abs=1e-12
    )


def test_intervals_contain_the_estimate_repeat_with_the_seed_and_narrow_with_more_texts():
    ref, pred = _random_single(40, seed=4)
    small = model_metrics(ref, pred, SINGLE_CODES, resamples=300)
    assert small == model_metrics(ref, pred, SINGLE_CODES, resamples=300)
    big_ref = {f"{t}-{k}": c for k in range(10) for t, c in ref.items()}
    big_pred = {f"{t}-{k}": c for k in range(10) for t, c in pred.items()}
    large = model_metrics(big_ref, big_pred, SINGLE_CODES, resamples=300)
    for name in OVERALL_METRICS:
        few, many = small.overall[name], large.overall[name]
        assert many.value == pytest.approx(few.value, abs=1e-12), name
        for one in (few, many):
            assert one.low <= one.value <= one.high, name
        assert many.high - many.low < few.high - few.low, name
    few_a, many_a = small.per_category[0].f1, large.per_category[0].f1
    assert many_a.high - many_a.low < few_a.high - few_a.low


def test_several_models_at_once_and_their_tables():
    ref, pred = _random_single(30, seed=6)
    _, other = _random_single(30, seed=7, error=0.9)
    results = metrics_by_model(ref, {"good": pred, "poor": other}, SINGLE_CODES, resamples=20)
    assert [m.model for m in results] == ["good", "poor"]
    overall = overall_table(results)
    assert list(overall["model"]) == ["good", "poor"]
    assert list(overall["accuracy"]) == [m.overall["accuracy"].value for m in results]
    assert {"accuracy_low", "accuracy_high", "accuracy_n", "jaccard"} <= set(overall.columns)
    categories = category_table(results)
    assert len(categories) == 2 * len(SINGLE_CODES)
    assert {"f1_low", "sensitivity", "support"} <= set(categories.columns)


def test_metrics_at_the_major_level_of_a_hierarchy():
    parent_of = {"1.1": "1", "1.2": "1", "2.1": "2"}
    codes = ("1", "1.1", "1.2", "2", "2.1")
    ref = {"t1": frozenset({"1.1"}), "t2": frozenset({"1.2"}), "t3": frozenset({"2.1"})}
    pred = {"t1": frozenset({"1.2"}), "t2": frozenset({"1.2"}), "t3": frozenset({"1.1"})}
    assert roll_up_codes(codes, parent_of) == ("1", "2")
    assert roll_up({"m": pred}, parent_of) == {"m": {t: frozenset({"1"}) for t in pred}}
    minor = model_metrics(ref, pred, codes, resamples=0)
    major = model_metrics(ref, pred, codes, parent_of=parent_of, resamples=0)
    assert minor.overall["accuracy"].value == pytest.approx(1 / 3)
    assert major.overall["accuracy"].value == pytest.approx(2 / 3)  # t3: 2 against 1
    assert [c.label for c in major.per_category] == ["1", "2"]
    assert major.confusion.loc["2", "1"] == 1
    with pytest.raises(InvalidLabels, match="cycle"):
        roll_up_codes(("a", "b"), {"a": "b", "b": "a"})


def test_degenerate_data_give_none_with_a_reason_never_nan():
    nothing = model_metrics(SINGLE_REF, {"x1": frozenset("A")}, SINGLE_CODES, resamples=50)
    assert nothing.n == 0 and nothing.unanswered == len(SINGLE_REF)
    assert all(v.value is None and v.reason == NO_OVERLAP for v in nothing.overall.values())
    assert nothing.confusion[NO_ANSWER].sum() == len(SINGLE_REF)
    empty = {"t1": frozenset(), "t2": frozenset()}
    blank = model_metrics(empty, empty, "AB", multi_label=True, resamples=50)
    assert blank.overall["jaccard"].value == 1.0 and blank.overall["exact_match"].value == 1.0
    assert (
        blank.overall["macro_f1"].value is None and "any label" in blank.overall["macro_f1"].reason
    )
    assert blank.overall["balanced_accuracy"].value is None
    for result in (nothing, blank):
        values = [*result.overall.values()]
        values += [getattr(c, f) for c in result.per_category for f in ("sensitivity", "f1")]
        for v in values:
            assert all(x is None or math.isfinite(x) for x in (v.value, v.low, v.high))


def test_bad_labels_are_domain_errors():
    with pytest.raises(InvalidLabels, match="the reference"):
        model_metrics({"t1": frozenset({"Z"})}, SINGLE_PRED, SINGLE_CODES)
    with pytest.raises(InvalidLabels, match="2 labels in single-label"):
        model_metrics(SINGLE_REF, {"t1": frozenset("AB")}, SINGLE_CODES, multi_label=False)
    with pytest.raises(InvalidLabels, match="once|twice"):
        model_metrics(SINGLE_REF, SINGLE_PRED, ("A", "A"))
