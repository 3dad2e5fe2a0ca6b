"""How well a model's labels match reference labels (verified or gold), overall and per
category, each with a percentile-bootstrap interval over texts (the same resamples for every
metric of a model) and n.

Input: the reference as `LabelSets`, each model's labels as `LabelSets` (or several models as
`CoderLabels`), and the codebook's codes; core/evaluation/label_sets.py defines what counts as
coded. Metrics count the texts both the reference and the model have (n); reference texts the
model left unanswered are counted apart (`unanswered`) and in the confusion matrix's
NO_ANSWER column.

Definitions, per text i with reference set Y_i and predicted set P_i over L labels:

- exact match (subset accuracy): share of texts with P_i = Y_i.
- accuracy: single-label, the share of texts labelled correctly (= exact match); multi-label,
  label-wise accuracy = 1 − Hamming loss.
- Hamming loss: single-label, the share of texts labelled wrongly (scikit-learn's multiclass
  definition); multi-label, the share of (text, label) decisions that are wrong, |Y_i △ P_i| / L
  averaged over texts.
- Jaccard index (samples average): |Y_i ∩ P_i| / |Y_i ∪ P_i| averaged over texts, 1 when both
  sets are empty.
- per category, one-vs-rest counts tp, fp, fn, tn: sensitivity (recall) tp/(tp+fn), specificity
  tn/(tn+fp), balanced accuracy (sensitivity+specificity)/2, precision tp/(tp+fp),
  F1 2tp/(2tp+fp+fn), support tp+fn.
- macro F1: mean F1 over the labels present in the reference or the predictions (a label in
  neither has no F1; scikit-learn's default label set for single-label data).
- micro F1: 2Σtp / (2Σtp + Σfp + Σfn) (equal to accuracy in single-label data).
- balanced accuracy: single-label, mean sensitivity over the labels present in the reference
  (scikit-learn's balanced_accuracy_score); multi-label, mean per-label balanced accuracy over
  the labels both present and absent somewhere in the reference.

`parent_of` (child code -> parent code) computes every metric at the top level of a hierarchy
instead (core/evaluation/label_sets.roll_up_sets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.evaluation import bootstrap
from core.evaluation.label_sets import (
    CoderLabels,
    LabelSets,
    check_universe,
    coded,
    coders_of,
    infer_multi_label,
    presence,
    roll_up_codes,
    roll_up_sets,
)
from core.evaluation.stats import SEED
from core.types.agreement import (
    NO_ANSWER,
    OVERALL_METRICS,
    CategoryMetrics,
    MetricValue,
    ModelMetrics,
)

NO_OVERLAP = "no text has both a reference label and a prediction"
_CATEGORY_REASONS = {
    "sensitivity": "no reference text has this label",
    "specificity": "every reference text has this label",
    "balanced_accuracy": "the reference never or always has this label",
    "precision": "the model never gave this label",
    "f1": "neither the reference nor the model gave this label",
}
_OVERALL_REASONS = {
    "macro_f1": "neither the reference nor the model gave any label",
    "micro_f1": "neither the reference nor the model gave any label",
    "balanced_accuracy": "no label is both present and absent in the reference",
}


def _counts(weights: np.ndarray, y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted (resamples+1) × labels one-vs-rest counts."""
    return {
        "tp": weights @ (y & p).astype(float),
        "fp": weights @ (~y & p).astype(float),
        "fn": weights @ (y & ~p).astype(float),
        "tn": weights @ (~y & ~p).astype(float),
    }


def _category_values(c: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    sensitivity = bootstrap.ratio(c["tp"], c["tp"] + c["fn"])
    specificity = bootstrap.ratio(c["tn"], c["tn"] + c["fp"])
    return {
        "sensitivity": sensitivity,
        "specificity": specificity,
        "balanced_accuracy": (sensitivity + specificity) / 2,  # NaN if either is
        "precision": bootstrap.ratio(c["tp"], c["tp"] + c["fp"]),
        "f1": bootstrap.ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
    }


def _overall_values(
    weights: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    multi: bool,
    c: Mapping[str, np.ndarray],
    per_category: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    n = y.shape[0]
    exact = (y == p).all(axis=1).astype(float)
    wrong_labels = (y != p).mean(axis=1)
    union = (y | p).sum(axis=1)
    jaccard = np.where(union == 0, 1.0, (y & p).sum(axis=1) / np.maximum(union, 1))
    hamming = wrong_labels if multi else 1 - exact
    tp, fp, fn = (c[k].sum(axis=1) for k in ("tp", "fp", "fn"))
    balanced = per_category["balanced_accuracy"] if multi else per_category["sensitivity"]
    return {
        "accuracy": weights @ (1 - hamming) / n,
        "balanced_accuracy": bootstrap.nanmean_rows(balanced),
        "macro_f1": bootstrap.nanmean_rows(per_category["f1"]),
        "micro_f1": bootstrap.ratio(2 * tp, 2 * tp + fp + fn),
        "hamming_loss": weights @ hamming / n,
        "jaccard": weights @ jaccard / n,
        "exact_match": weights @ exact / n,
    }


def _estimate(values: np.ndarray, n: int, confidence: float, reason: str) -> MetricValue:
    point = float(values[0])
    return bootstrap.estimate(None if np.isnan(point) else point, values[1:], n, confidence, reason)


def _confusion(reference: LabelSets, predicted: LabelSets, universe: Sequence[str]) -> pd.DataFrame:
    columns = [*universe, NO_ANSWER]
    table = pd.DataFrame(0, index=pd.Index(universe, name="reference"), columns=columns)
    table.columns.name = "predicted"
    for text_id, codes in reference.items():
        answer = predicted.get(text_id)
        (truth,) = codes
        table.loc[truth, next(iter(answer)) if answer else NO_ANSWER] += 1
    return table


def model_metrics(
    reference: LabelSets,
    predicted: LabelSets,
    universe: Sequence[str],
    *,
    model: str = "model",
    multi_label: bool | None = None,
    parent_of: Mapping[str, str] | None = None,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = SEED,
    confidence: float = bootstrap.CONFIDENCE,
) -> ModelMetrics:
    """One model's labels against the reference labels (definitions in the module docstring)."""
    universe = check_universe(universe)
    bootstrap.check_settings(resamples, confidence)
    if parent_of:
        coded(reference, universe, True, "the reference")  # codes checked before rolling up
        coded(predicted, universe, True, model)
        reference, predicted = (
            roll_up_sets(reference, parent_of),
            roll_up_sets(predicted, parent_of),
        )
        universe = roll_up_codes(universe, parent_of)
    if multi_label is None:
        multi_label = infer_multi_label((reference, predicted))
    ref = coded(reference, universe, multi_label, "the reference")
    pred = coded(predicted, universe, multi_label, model)
    texts = sorted(ref.keys() & pred.keys())
    n = len(texts)
    unanswered = len(ref.keys() - pred.keys())
    confusion = None if multi_label else _confusion(ref, pred, universe)
    y, p = presence(ref, texts, universe), presence(pred, texts, universe)
    # Row 0 weighs every text once (the point values); the rest are the bootstrap resamples.
    weights = np.vstack([np.ones((1, n)), bootstrap.resample_counts(n, resamples, seed)])
    counts = _counts(weights, y, p)
    per_label = _category_values(counts)
    if n == 0:
        none = MetricValue.undefined(0, NO_OVERLAP)
        overall_values = {name: none for name in OVERALL_METRICS}
    else:
        overall = _overall_values(weights, y, p, multi_label, counts, per_label)
        overall_values = {
            name: _estimate(overall[name], n, confidence, _OVERALL_REASONS.get(name, NO_OVERLAP))
            for name in OVERALL_METRICS
        }

    def category(j: int, code: str) -> CategoryMetrics:
        values = {
            name: _estimate(
                column[:, j], n, confidence, _CATEGORY_REASONS[name] if n else NO_OVERLAP
            )
            for name, column in per_label.items()
        }
        support = int(counts["tp"][0, j] + counts["fn"][0, j])
        return CategoryMetrics(
            code, support, int(counts["tp"][0, j] + counts["fp"][0, j]), **values
        )

    categories = tuple(category(j, code) for j, code in enumerate(universe))
    return ModelMetrics(
        model=model,
        n=n,
        unanswered=unanswered,
        multi_label=multi_label,
        overall=overall_values,
        per_category=categories,
        confusion=confusion,
    )


def metrics_by_model(
    reference: LabelSets,
    predictions: CoderLabels,
    universe: Sequence[str],
    *,
    models: Sequence[str] | None = None,
    multi_label: bool | None = None,
    parent_of: Mapping[str, str] | None = None,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = SEED,
    confidence: float = bootstrap.CONFIDENCE,
    scopes: Mapping[str, Iterable[str]] | None = None,
) -> tuple[ModelMetrics, ...]:
    """`model_metrics` for each model (all of `predictions` unless `models` names some), with
    one single-/multi-label decision for all of them so that their metrics compare.
    `scopes`: the texts each model was given, when not all of the reference's."""
    chosen = coders_of(predictions, models if models is not None else list(predictions))
    if multi_label is None:
        multi_label = infer_multi_label([reference, *(predictions[m] for m in chosen)])

    def within(name: str) -> LabelSets:
        # A coder that was given only some texts (a sampled run) is measured on those: the
        # rest of the reference is not "unanswered" by it.
        if scopes is None or name not in scopes:
            return reference
        scope = set(scopes[name])
        return {t: labels for t, labels in reference.items() if t in scope}

    return tuple(
        model_metrics(
            within(name),
            predictions[name],
            universe,
            model=name,
            multi_label=multi_label,
            parent_of=parent_of,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
        )
        for name in chosen
    )


def overall_table(metrics: Sequence[ModelMetrics]) -> pd.DataFrame:
    """One row per model: every overall metric with its interval and n."""
    return pd.DataFrame([m.overall_row() for m in metrics])


def category_table(metrics: Sequence[ModelMetrics]) -> pd.DataFrame:
    """One row per model and label: the per-category metrics with their intervals."""
    return pd.DataFrame(
        [{"model": m.model} | category.as_row() for m in metrics for category in m.per_category]
    )
