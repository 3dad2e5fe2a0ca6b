"""Records of a learning curve: methods (k-shot prompting, an embedding probe, a LoRA
adapter) measured on one fixed held-out set after learning from n labelled texts, for growing
n and seeded repeats; and the comparison of methods at one n with their inference and training
cost (core/evaluation/curve.py, docs/learning.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.types.agreement import MetricValue
from core.types.classification import VerifyRule
from core.types.engine import ModelInfo
from core.types.finetune import LoraSettings
from core.types.learning import LabelSource

if TYPE_CHECKING:  # core/types/runs.py imports this module to register CurveConfig
    from core.types.runs import ModelRef


class CurveMethod(StrEnum):
    KSHOT = "kshot"  # k examples drawn from the n training texts in the prompt; n = 0 zero-shot
    PROBE = "probe"  # a logistic regression on the model's embeddings of the n texts
    LORA = "lora"  # a LoRA adapter trained on the n texts, then prompted zero-shot


DEFAULT_METHODS = (CurveMethod.KSHOT, CurveMethod.PROBE)
DEFAULT_SIZES = (0, 8, 16, 32, 64, 128, 256, 512)  # and every training text ("all")
DEFAULT_REPEATS = 3
DEFAULT_SHOTS = 5
# The metrics a curve's table and chart offer first (every overall metric is stored).
CURVE_HEADLINE_METRICS = ("accuracy", "macro_f1", "balanced_accuracy")


@dataclass(frozen=True)
class CurveSpec:
    """A learning curve as the user asks for it. The labelled texts are split once, seeded,
    into held-out texts (`held_out`, or `test_share` of them) and a training pool, as a probe's
    are (core/evaluation/probe.split_texts); `sizes` above the pool are capped at it, and
    `include_all` adds the whole pool."""

    dataset: str
    codebook: str
    models: tuple[ModelInfo, ...]
    methods: tuple[CurveMethod, ...] = DEFAULT_METHODS
    sizes: tuple[int, ...] = DEFAULT_SIZES
    include_all: bool = True
    repeats: int = DEFAULT_REPEATS  # seeded training subsamples per n (one at n = 0 and all)
    shots: int = DEFAULT_SHOTS  # k of the k-shot method
    source: LabelSource = LabelSource.VERIFIED
    rule: VerifyRule = VerifyRule.ONE
    seed: int = 0
    test_share: float = 0.2
    held_out: int | None = None
    regularization: float = 1.0  # the probe's C
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass(frozen=True)
class CurveConfig:
    """A learning curve as stored with its run: the exact held-out texts, one training order
    of the pool per repeat (the n training texts of repeat r are the first n of orders[r]), and
    every text's labels, so that a resumed curve measures the same data even after reviewers
    have changed some labels."""

    dataset: str
    codebook: str
    source: str
    rule: str
    models: tuple[ModelRef, ...]
    methods: tuple[str, ...]
    sizes: tuple[int, ...]  # ascending, each at most the pool
    repeats: int
    shots: int
    seed: int
    multi_label: bool
    regularization: float
    held_out_ids: tuple[str, ...]
    orders: tuple[tuple[str, ...], ...]
    labels: tuple[tuple[str, tuple[str, ...]], ...]  # (text id, sorted label codes)
    data_hash: str
    threads: int  # CPU threads the job uses: training CPU-hours are seconds × threads
    lora: LoraSettings = field(default_factory=LoraSettings)
    llama_cpp_version: str = ""

    @property
    def pool_size(self) -> int:
        return len(self.orders[0]) if self.orders else 0

    def repeats_at(self, n: int) -> int:
        """Zero texts and the whole pool are the same set in every repeat: one is enough."""
        return 1 if n in (0, self.pool_size) else self.repeats

    def training_ids(self, n: int, repeat: int) -> tuple[str, ...]:
        return self.orders[repeat][:n]

    @property
    def label_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.labels)

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def to_json(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["models"] = [asdict(m) for m in self.models]
        stored["orders"] = [list(order) for order in self.orders]
        stored["labels"] = [[tid, list(codes)] for tid, codes in self.labels]
        stored["lora"] = self.lora.to_json()
        for key in ("methods", "sizes", "held_out_ids"):
            stored[key] = list(stored[key])
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> CurveConfig:
        from core.types.runs import ModelRef

        fields_ = dict(stored)
        fields_["models"] = tuple(ModelRef(**m) for m in stored["models"])
        fields_["orders"] = tuple(tuple(order) for order in stored["orders"])
        fields_["labels"] = tuple((tid, tuple(codes)) for tid, codes in stored["labels"])
        fields_["lora"] = LoraSettings.from_json(stored["lora"])
        for key in ("methods", "sizes", "held_out_ids"):
            fields_[key] = tuple(stored[key])
        return cls(**fields_)


@dataclass(frozen=True, order=True)
class CurvePoint:
    """One unit of a curve: a method of one model trained on the first n texts of one repeat's
    order and measured on the held-out texts."""

    model: str
    n_train: int
    method: str
    repeat: int

    @property
    def label(self) -> str:
        """What the run's unit list shows (never parsed back: a unit's point is its place in
        the plan)."""
        return f"{self.method} n={self.n_train} #{self.repeat + 1}"


@dataclass(frozen=True)
class PointResult:
    """What measuring one point gave: the held-out metrics (empty, with `skipped`, when the
    method cannot learn from these texts) and the seconds spent learning and coding."""

    metrics: dict[str, MetricValue]
    train_seconds: float
    code_seconds: float
    skipped: str | None = None
    coding_run_id: str | None = None


@dataclass(frozen=True)
class CurveProgress:
    """A curve's progress and time left. `eta_s` covers the pending points of the method ·
    model groups with a finished point (the median seconds of their finished points);
    `unmeasured` names the groups without one yet."""

    run_id: str
    status: str
    done: int
    total: int
    eta_s: float | None
    unmeasured: tuple[str, ...] = ()
    error: str | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


@dataclass(frozen=True)
class CompareRow:
    """One method of one model at one n, as the comparison shows it: the held-out metrics
    (mean over repeats with its interval), what coding costs per 1,000 texts, and what learning
    cost. `base` is the model zero-shot, the k-shot line at n = 0."""

    model: str
    method: str  # "base", or a CurveMethod value
    n_train: int
    repeats: int
    held_out: int
    metrics: dict[str, MetricValue]  # n: held-out texts answered
    interval: str | None  # "t" across repeats, "bootstrap" over texts, or None
    seconds_per_text: float | None
    money_per_1000: float | None
    energy_kwh_per_1000: float | None
    train_seconds: float
    train_cpu_hours: float
    train_energy_kwh: float
    train_money: float

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in asdict(self).items() if k != "metrics"}
        for name, value in self.metrics.items():
            row |= value.as_dict(name)
        return row


@dataclass(frozen=True)
class CompareReport:
    run_id: str
    dataset: str
    codebook: str
    rows: tuple[CompareRow, ...]
    currency: str
    hardware: str  # the hardware profile's name
    threads: int
