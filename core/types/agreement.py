"""Records of the classification workbench's statistics: how far coders (people or models)
agree, how often reviewers accept a model's proposals, and how well a model's labels match
reference (verified or gold) labels. Computed in core/evaluation/agreement.py and
core/evaluation/classification_metrics.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# The overall metrics of a model against reference labels, in the order tables show them.
OVERALL_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "micro_f1",
    "hamming_loss",
    "jaccard",
    "exact_match",
)
# The confusion matrix's column for reference texts the model gave no label for.
NO_ANSWER = "no answer"


@dataclass(frozen=True)
class MetricValue:
    """A statistic with its percentile-bootstrap interval over texts. `value` is None when the
    statistic is undefined for these data, and `reason` says why; `low`/`high` are None when
    the value is, or when too few resamples gave a value to place an interval."""

    value: float | None
    low: float | None
    high: float | None
    n: int  # texts the statistic counts
    reason: str | None = None

    @classmethod
    def undefined(cls, n: int, reason: str) -> MetricValue:
        return cls(None, None, None, n, reason)

    def as_dict(self, prefix: str) -> dict[str, Any]:
        return {
            prefix: self.value,
            f"{prefix}_low": self.low,
            f"{prefix}_high": self.high,
            f"{prefix}_n": self.n,
        }


@dataclass(frozen=True)
class LabelAgreement:
    """Two coders' agreement on one label: presence or absence of it per text."""

    label: str
    kappa: MetricValue  # Cohen's κ


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's κ between two coders on the texts both coded, overall and per label."""

    coder_a: str
    coder_b: str
    basis: str  # how the overall κ was formed (nominal label, or macro over per-label κ)
    kappa: MetricValue
    percent_agreement: MetricValue  # share of texts given exactly the same label set
    per_label: tuple[LabelAgreement, ...]


@dataclass(frozen=True)
class LabelGroupAgreement:
    label: str
    fleiss_kappa: MetricValue
    krippendorff_alpha: MetricValue


@dataclass(frozen=True)
class GroupAgreement:
    """Agreement among two or more coders. Fleiss' κ counts the texts every coder coded;
    Krippendorff's α (nominal) counts every text at least two of them coded."""

    coders: tuple[str, ...]
    basis: str
    fleiss_kappa: MetricValue
    krippendorff_alpha: MetricValue
    per_label: tuple[LabelGroupAgreement, ...]


@dataclass(frozen=True)
class AcceptanceRate:
    """The share of one model's proposed labels that reviewers accepted (Wilson interval)."""

    model: str
    accepted: int
    rate: MetricValue  # n: proposals reviewed


@dataclass(frozen=True)
class CategoryMetrics:
    """One label, one-vs-rest: the model's labels against the reference labels."""

    label: str
    support: int  # reference texts with this label
    predicted: int  # texts the model gave this label
    sensitivity: MetricValue  # recall: tp / (tp + fn)
    specificity: MetricValue  # tn / (tn + fp)
    balanced_accuracy: MetricValue  # (sensitivity + specificity) / 2
    precision: MetricValue  # tp / (tp + fp)
    f1: MetricValue  # 2tp / (2tp + fp + fn)

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"label": self.label, "support": self.support}
        row["predicted"] = self.predicted
        for name in ("sensitivity", "specificity", "balanced_accuracy", "precision", "f1"):
            row |= getattr(self, name).as_dict(name)
        return row


@dataclass(frozen=True)
class ModelMetrics:
    """One model's labels against the reference labels on the texts both have.

    `overall` holds OVERALL_METRICS by name. `confusion` (single-label only) has reference
    labels as rows and predicted labels as columns, both in codebook order, plus a NO_ANSWER
    column counting reference texts the model gave no label for."""

    model: str
    n: int  # texts with both a reference and a prediction
    unanswered: int  # reference texts without a prediction (not in n)
    multi_label: bool
    overall: dict[str, MetricValue]
    per_category: tuple[CategoryMetrics, ...]
    confusion: pd.DataFrame | None = field(default=None, compare=False)

    def overall_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model": self.model, "n": self.n, "unanswered": self.unanswered}
        for name, value in self.overall.items():
            row |= value.as_dict(name)
        return row
