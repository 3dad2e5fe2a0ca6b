"""Records of LoRA fine-tuning: the settings a user picks, the run's stored configuration, and
the manifest saved beside each GGUF adapter under models/adapters/<name>/."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import InvalidRequest
from core.types.agreement import MetricValue
from core.types.classification import VerifyRule
from core.types.engine import ModelInfo
from core.types.learning import LabelSource

ADAPTER_FORMAT = 1  # bumped when adapter.gguf's layout or manifest.json changes shape
ADAPTERS_FOLDER = "adapters"  # under the models folder
ADAPTER_FILE = "adapter.gguf"
MANIFEST_FILE = "manifest.json"
ADAPTER_SEPARATOR = "+"  # a base model with an adapter is listed as "<base>+<adapter>"


@dataclass(frozen=True)
class LoraSettings:
    """Hyper-parameters with defaults that train a 135M-parameter model on two CPU cores in
    minutes: rank 8 on every linear layer, alpha twice the rank, one epoch, batch 4."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    epochs: int = 1
    learning_rate: float = 2e-4
    batch_size: int = 4
    max_tokens: int = 384  # an example longer than this is cut (the answer is kept whole)
    validation_share: float = 0.1  # of the training texts, held back to measure loss
    seed: int = 0
    checkpoint_every: int = 16  # optimiser steps between checkpoints (resume restarts there)
    threads: int = 2

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> LoraSettings:
        return cls(**stored)

    def check(self) -> None:
        """InvalidRequest naming every setting that cannot train, before a run exists (a rank
        of 0 used to fail inside peft after the run had started)."""
        whole = {
            "rank": self.rank,
            "epochs": self.epochs,
            "batch size": self.batch_size,
            "max tokens": self.max_tokens,
            "checkpoint every": self.checkpoint_every,
            "threads": self.threads,
        }
        problems = [
            f"{name} must be at least 1, got {value}" for name, value in whole.items() if value < 1
        ]
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            problems.append(f"alpha must be a positive number, got {self.alpha}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            problems.append(f"learning rate must be a positive number, got {self.learning_rate}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be at least 0 and below 1, got {self.dropout}")
        if not 0 <= self.validation_share < 1:
            problems.append(
                f"validation share must be at least 0 and below 1, got {self.validation_share}"
            )
        if problems:
            raise InvalidRequest("LoRA settings: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class FinetuneConfig:
    """A fine-tuning run as stored with it: which model, which labelled texts (exact ids, so a
    resumed run trains on the same data), which adapter it writes, and how."""

    adapter: str  # the adapter's name: models/adapters/<adapter>/
    model: str  # the base model's file stem
    model_sha256: str
    dataset: str
    codebook: str
    source: str  # LabelSource value: verified or gold labels
    rule: str  # VerifyRule value when source is verified
    train_ids: tuple[str, ...]
    validation_ids: tuple[str, ...]
    data_hash: str  # sha256 of the sorted (text id, codes) pairs trained on
    settings: LoraSettings = field(default_factory=LoraSettings)

    def to_json(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["train_ids"] = list(self.train_ids)
        stored["validation_ids"] = list(self.validation_ids)
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> FinetuneConfig:
        fields = dict(stored)
        fields["train_ids"] = tuple(stored["train_ids"])
        fields["validation_ids"] = tuple(stored["validation_ids"])
        fields["settings"] = LoraSettings.from_json(stored["settings"])
        return cls(**fields)


@dataclass(frozen=True)
class AdapterManifest:
    """What an adapter was trained from and how training went. The registry lists it as
    "<base>+<name>" only while a usable model file with `base_sha256` is present."""

    name: str
    base_model: str  # file stem of the base model when it was trained
    base_sha256: str
    architecture: str
    dataset: str
    codebook: str
    codebook_codes: tuple[str, ...]
    data_hash: str
    train_size: int
    validation_size: int
    settings: LoraSettings
    steps: int
    tokens_trained: int  # non-pad tokens through forward and backward, all epochs
    train_seconds: float  # forward, backward and optimiser only
    wall_seconds: float  # the whole job, loading and writing included
    peak_rss_mb: float
    final_train_loss: float | None
    validation_loss: float | None
    run_id: str
    created_at: str  # ISO 8601, UTC
    metrics: dict[str, MetricValue] = field(default_factory=dict)  # held-out, filled by compare
    format: int = ADAPTER_FORMAT

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens_trained / self.train_seconds if self.train_seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["codebook_codes"] = list(self.codebook_codes)
        stored["settings"] = self.settings.to_json()
        stored["metrics"] = {k: asdict(v) for k, v in self.metrics.items()}
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> AdapterManifest:
        fields = dict(stored)
        fields["codebook_codes"] = tuple(stored["codebook_codes"])
        fields["settings"] = LoraSettings.from_json(stored["settings"])
        fields["metrics"] = {k: MetricValue(**v) for k, v in stored.get("metrics", {}).items()}
        return cls(**fields)


@dataclass(frozen=True)
class FinetuneSpec:
    """A fine-tuning run as the user asks for it. The labelled texts are split once, seeded,
    into validation texts (`settings.validation_share` of them) and a training pool, as probes
    split theirs (core/evaluation/probe.py); `train_size` trains on a seeded subset of the pool."""

    name: str  # the adapter's name
    dataset: str
    codebook: str
    model: ModelInfo
    source: LabelSource = LabelSource.VERIFIED
    rule: VerifyRule = VerifyRule.ONE
    train_size: int | None = None  # None: the whole training pool
    settings: LoraSettings = field(default_factory=LoraSettings)
    replace: bool = False  # overwrite an adapter of that name


IGNORE_INDEX = -100  # a label position the loss skips (PyTorch's cross-entropy default)


@dataclass(frozen=True)
class TrainingExample:
    """One labelled text as token ids for the model, in the exact zero-shot coding prompt;
    `labels` is IGNORE_INDEX over the prompt, so only the answer (and its end token) is learnt."""

    text_id: str
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    text_cut: bool = False  # the text was shortened so the example fits max_tokens

    @property
    def answer_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass(frozen=True)
class FinetuneStep:
    """One optimiser step: its mean loss over the batch's answer tokens, the non-pad tokens it
    pushed through forward and backward, and the seconds forward, backward and update took."""

    step: int  # 1-based, counted over all epochs
    epoch: int  # 1-based
    loss: float
    tokens: int
    seconds: float


@dataclass(frozen=True)
class FinetuneValidation:
    step: int  # the optimiser step after which it was measured
    loss: float  # mean over every answer token of the validation texts
    n_examples: int
