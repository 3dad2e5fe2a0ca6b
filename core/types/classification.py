"""Records of the classification workbench: datasets of texts, codebooks of labels, LLM coding
runs that propose labels, and the human reviews that verify them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # core/types/runs.py imports this module to register CodingConfig
    from core.types.runs import ModelRef

# The intensities a label may carry, weakest first (a codebook may leave them unused).
INTENSITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class LabelValue:
    """A label attached to a text (gold, proposed or reviewed), by the codebook's code."""

    code: str
    intensity: str | None = None


@dataclass(frozen=True)
class TextRecord:
    """One text of a dataset, with the labels human coders gave it before import, if any."""

    id: str
    text: str
    gold: tuple[LabelValue, ...] = ()


@dataclass(frozen=True)
class DatasetColumns:
    """Which columns of an imported table hold what. Several gold labels in one cell are
    separated by `separator`; intensities, when given, line up with them one for one."""

    id: str
    text: str
    gold: str | None = None
    intensity: str | None = None
    separator: str = ";"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    source: str
    texts: int
    gold_texts: int  # texts with at least one gold label
    multi_label: bool  # some text has more than one gold label
    created_at: datetime | None = None


@dataclass(frozen=True)
class CodebookLabel:
    """`code` identifies the label everywhere (stored decisions, gold columns); `name` is what
    a model writes and a reviewer reads. `parent` is the code of a broader label."""

    code: str
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()
    parent: str | None = None


@dataclass(frozen=True)
class Codebook:
    name: str
    labels: tuple[CodebookLabel, ...]
    instructions: str = ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(label.code for label in self.labels)

    def label(self, code: str) -> CodebookLabel:
        for label in self.labels:
            if label.code == code:
                return label
        raise KeyError(code)

    def resolve(self, value: str) -> str | None:
        """The code a gold or typed value means: a code as written, else a name compared
        without case; None when the codebook has no such label."""
        value = str(value).strip()
        for label in self.labels:
            if label.code == value:
                return label.code
        folded = value.casefold()
        for label in self.labels:
            if label.name.casefold() == folded:
                return label.code
        return None

    @property
    def leaves(self) -> tuple[CodebookLabel, ...]:
        """Labels no other label names as its parent: the ones texts are coded with."""
        parents = {label.parent for label in self.labels if label.parent}
        return tuple(label for label in self.labels if label.code not in parents)


@dataclass(frozen=True)
class CodingSpec:
    """A coding run as the user asks for it: models code (a seeded sample of) a dataset."""

    dataset: str
    codebook: str
    models: tuple[Any, ...]  # ModelInfo
    shots: int = 0  # k examples in the prompt, drawn from other texts' verified or gold labels
    multi_label: bool = False
    intensities: bool = False  # multi-label answers also rate each label low/medium/high
    sample: int | None = None  # code a seeded sample of this many texts; None: all
    seed: int = 0


@dataclass(frozen=True)
class CodingConfig:
    """A coding run's full configuration: the exact texts, models and few-shot examples."""

    dataset: str
    codebook: str
    text_ids: tuple[str, ...]
    models: tuple[ModelRef, ...]
    shots: int
    multi_label: bool
    intensities: bool
    sample: int | None
    seed: int
    examples: tuple[tuple[str, tuple[str, ...]], ...]  # (text id, label codes) shown as shots
    prompt_version: str
    llama_cpp_version: str = ""

    def to_json(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["models"] = [asdict(m) for m in self.models]
        stored["examples"] = [[tid, list(codes)] for tid, codes in self.examples]
        stored["text_ids"] = list(self.text_ids)
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> CodingConfig:
        from core.types.runs import ModelRef

        return cls(
            dataset=stored["dataset"],
            codebook=stored["codebook"],
            text_ids=tuple(stored["text_ids"]),
            models=tuple(ModelRef(**m) for m in stored["models"]),
            shots=int(stored["shots"]),
            multi_label=bool(stored["multi_label"]),
            intensities=bool(stored["intensities"]),
            sample=stored.get("sample"),
            seed=int(stored.get("seed", 0)),
            examples=tuple((tid, tuple(codes)) for tid, codes in stored.get("examples", ())),
            prompt_version=stored["prompt_version"],
            llama_cpp_version=stored.get("llama_cpp_version", ""),
        )

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)


@dataclass(frozen=True)
class ProposedLabel:
    """A label a model proposed, with its confidence: the probability the model gave it among
    the labels the grammar allowed at that point (core/evaluation/coding.py)."""

    code: str
    confidence: float | None
    intensity: str | None = None


@dataclass(frozen=True)
class Coding:
    """One model's answer for one text."""

    labels: tuple[ProposedLabel, ...]
    raw: str  # what the model wrote, grammar-forced
    prompt_tokens: int


@dataclass(frozen=True)
class Coder:
    """Who proposed labels: one model in one coding run (zero-shot and 5-shot runs of the
    same model are different coders)."""

    run_id: str
    model: str
    shots: int

    @property
    def label(self) -> str:
        return f"{self.model} · {self.shots}-shot · {self.run_id[:6]}"


@dataclass(frozen=True)
class CoderProposal:
    coder: Coder
    labels: tuple[ProposedLabel, ...]


class VerifyRule(StrEnum):
    """When a reviewed text counts as verified, and with which labels."""

    ONE = "one"  # one reviewer's latest decision (the first reviewer's, if several)
    TWO_AGREE = "two_agree"  # two reviewers chose the same label set


@dataclass(frozen=True)
class Review:
    """One reviewer's decision on one text: the labels they accept (proposed or added), or
    `unclear` when the text cannot be coded."""

    dataset: str
    codebook: str
    text_id: str
    reviewer: str
    labels: tuple[LabelValue, ...]
    unclear: bool = False
    note: str = ""


@dataclass(frozen=True)
class QueueItem:
    """A text waiting for a reviewer, with every coder's proposals and why it is where it is
    in the queue."""

    text_id: str
    text: str
    proposals: tuple[CoderProposal, ...]
    distinct_labels: int  # how many different labels the coders proposed
    min_confidence: float | None  # the lowest confidence among the proposals
    assigned: bool = False  # assigned to this reviewer for double coding


@dataclass(frozen=True)
class ReviewProgress:
    """How far the review of a dataset with a codebook has come."""

    coded_texts: int  # texts some coder proposed labels for
    reviewed_texts: int  # texts with at least one standing decision
    unclear_texts: int
    verified_texts: int  # under `rule`
    rule: VerifyRule
    decisions_by_reviewer: dict[str, int]
    assigned_texts: int  # texts assigned for blind double coding
