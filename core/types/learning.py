"""Records of learning from labelled texts: an embedding probe (a linear classifier trained on
a local model's text embeddings) as the user asks for it, as it is saved beside its weights,
and as training reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.types.agreement import MetricValue, ModelMetrics
from core.types.classification import VerifyRule
from core.types.engine import ModelInfo

# The held-out figures a probe's manifest keeps and the CLI prints.
PROBE_HEADLINE_METRICS = ("accuracy", "macro_f1", "balanced_accuracy")
PROBE_FORMAT = 1  # bumped when probe.npz or manifest.json change shape


class LabelSource(StrEnum):
    """Where a probe's training labels come from."""

    VERIFIED = "verified"  # reviewers' verified labels (core/store/reviews.py)
    GOLD = "gold"  # the dataset's imported labels, resolved through the codebook


@dataclass(frozen=True)
class ProbeSpec:
    """A probe as the user asks for it. The labelled texts are split once, seeded (stratified
    when every label allows it), into a held-out set of `held_out` texts (or `test_share` of
    them) and a training pool; `train_size` trains on a seeded subset of that pool, so that
    probes trained on more or fewer texts are measured on the same held-out texts."""

    name: str
    dataset: str
    codebook: str
    model: ModelInfo
    source: LabelSource = LabelSource.VERIFIED
    rule: VerifyRule = VerifyRule.ONE
    seed: int = 0
    test_share: float = 0.2
    held_out: int | None = None  # texts held out, instead of test_share
    train_size: int | None = None  # None: the whole training pool
    regularization: float = 1.0  # scikit-learn's C: smaller is stronger


@dataclass(frozen=True)
class ProbeManifest:
    """What a saved probe was trained from and how well it did on its held-out texts. A probe
    is only used with the same model file (sha256) and the same codebook codes."""

    name: str
    model: str
    model_sha256: str
    codebook: str
    codebook_codes: tuple[str, ...]  # every code of the codebook when it was trained
    classes: tuple[str, ...]  # the codes it can predict: those its training texts had
    dataset: str
    source: str
    rule: str
    multi_label: bool
    data_hash: str  # sha256 of the sorted (text id, codes) pairs it was split from
    seed: int
    test_share: float
    train_size: int
    held_out_size: int
    embedding_dim: int
    regularization: float
    metrics: dict[str, MetricValue]  # held-out PROBE_HEADLINE_METRICS
    embed_seconds: float
    fit_seconds: float
    created_at: str  # ISO 8601, UTC
    format: int = PROBE_FORMAT

    @property
    def coder_name(self) -> str:
        """The model name its coding runs record (the Review queue and Agreement show it)."""
        return f"probe:{self.name}"

    def to_json(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["codebook_codes"] = list(self.codebook_codes)
        stored["classes"] = list(self.classes)
        stored["metrics"] = {k: asdict(v) for k, v in self.metrics.items()}
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ProbeManifest:
        fields = dict(stored)
        fields["codebook_codes"] = tuple(stored["codebook_codes"])
        fields["classes"] = tuple(stored["classes"])
        fields["metrics"] = {k: MetricValue(**v) for k, v in stored["metrics"].items()}
        return cls(**fields)


@dataclass(frozen=True)
class ProbeResult:
    """A trained and saved probe: its manifest, its full held-out metrics (per category and
    confusion matrix too) and where it is."""

    manifest: ProbeManifest
    metrics: ModelMetrics
    path: Path
