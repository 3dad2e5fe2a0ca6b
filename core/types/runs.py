"""Records of a run's life: its kind and status, its stored configuration, and the row the
store keeps for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.types.classification import CodingConfig
from core.types.curves import CurveConfig
from core.types.engine import ModelInfo, SamplerSettings
from core.types.evaluation import PromptTemplate
from core.types.finetune import FinetuneConfig
from core.types.loadtest import LoadTestConfig
from core.types.token_level import LadderConfig


class RunKind(StrEnum):
    REFINE = "refine"  # one interactive refinement
    BENCHMARK = "benchmark"  # models x questions x rounds, in the background worker
    LIKELIHOOD = "likelihood"  # models x questions scored by likelihood, in the worker too
    LADDER = "ladder"  # a model quantized to several types, each copy measured
    CODING = "coding"  # models propose codebook labels for a dataset's texts
    FINETUNE = "finetune"  # a LoRA adapter trained on labelled texts (core/types/finetune.py)
    CURVE = "curve"  # a learning curve: methods measured at growing numbers of labelled texts
    LOADTEST = "loadtest"  # an endpoint measured at several concurrency levels


class RunStatus(StrEnum):
    QUEUED = "queued"  # created; no process has claimed it yet
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process was killed, crashed or got Ctrl+C: resumable
    STOPPED = "stopped"  # someone pressed Stop (or `perfics run --stop`): resumable

    @property
    def resumable(self) -> bool:
        return self in (
            RunStatus.QUEUED,
            RunStatus.FAILED,
            RunStatus.INTERRUPTED,
            RunStatus.STOPPED,
        )

    @property
    def active(self) -> bool:
        """Queued or running: it may still change, so screens poll it."""
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class ModelRef:
    """A model as a run records it: the file stem and the exact file (SHA-256)."""

    name: str
    sha256: str | None
    quantization: str | None = None
    # An endpoint model: its endpoint's name, and whether prompts sent to it leave this machine
    # (kept in the run's record, so the run shows it even after the endpoint is removed).
    endpoint: str | None = None
    leaves_machine: bool = False

    @classmethod
    def of(cls, info: ModelInfo) -> ModelRef:
        endpoint = info.endpoint.name if info.endpoint else None
        return cls(info.name, info.sha256, info.quantization, endpoint, info.leaves_machine)


def _templates_from(stored: dict) -> dict[str, PromptTemplate]:
    return {kind: PromptTemplate(**t) for kind, t in stored.items()}


@dataclass(frozen=True)
class RefineConfig:
    prompt: str
    rounds: int
    model: ModelRef
    settings: SamplerSettings
    templates: dict[str, PromptTemplate]
    llama_cpp_version: str
    stop_early: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "rounds": self.rounds,
            "model": self.model.name,
            "model_sha256": self.model.sha256,
            "model_endpoint": self.model.endpoint,
            "model_leaves_machine": self.model.leaves_machine,
            "settings": asdict(self.settings),
            "templates": {k: asdict(t) for k, t in self.templates.items()},
            "llama_cpp_version": self.llama_cpp_version,
            "stop_early": self.stop_early,
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> RefineConfig:
        return cls(
            prompt=stored["prompt"],
            rounds=int(stored["rounds"]),
            model=ModelRef(
                stored["model"],
                stored.get("model_sha256"),
                endpoint=stored.get("model_endpoint"),
                leaves_machine=bool(stored.get("model_leaves_machine", False)),
            ),
            settings=SamplerSettings.from_dict(stored["settings"]),
            templates=_templates_from(stored.get("templates", {})),
            llama_cpp_version=stored.get("llama_cpp_version", ""),
            # Configs stored before the choice existed come from runs that did stop early.
            stop_early=bool(stored.get("stop_early", True)),
        )


@dataclass(frozen=True)
class RunSpec:
    """A benchmark as the user asks for it, before its questions are chosen."""

    suite: str
    models: tuple[ModelInfo, ...]
    rounds: int = 2
    judge: ModelInfo | None = None
    limit: int | None = None
    categories: tuple[str, ...] = ()
    settings: SamplerSettings = field(default_factory=lambda: SamplerSettings(max_tokens=384))
    templates: dict[str, PromptTemplate] | None = None  # None: the built-in templates
    stop_early: bool = False  # the paper's protocol: every round runs
    sample_seed: int = 0  # which questions a limit draws from each category


@dataclass(frozen=True)
class BenchmarkConfig:
    """A benchmark run's full configuration, including the exact questions it covers."""

    suite: str
    question_ids: tuple[str, ...]
    models: tuple[ModelRef, ...]
    judge: ModelRef | None
    rounds: int
    limit: int | None
    categories: tuple[str, ...]
    settings: SamplerSettings
    templates: dict[str, PromptTemplate]
    llama_cpp_version: str
    stop_early: bool = False
    sample_seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "question_ids": list(self.question_ids),
            "models": [asdict(m) for m in self.models],
            "judge": asdict(self.judge) if self.judge else None,
            "rounds": self.rounds,
            "limit": self.limit,
            "categories": list(self.categories),
            "settings": asdict(self.settings),
            "templates": {k: asdict(t) for k, t in self.templates.items()},
            "llama_cpp_version": self.llama_cpp_version,
            "stop_early": self.stop_early,
            "sample_seed": self.sample_seed,
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> BenchmarkConfig:
        return cls(
            suite=stored["suite"],
            question_ids=tuple(stored["question_ids"]),
            models=tuple(ModelRef(**m) for m in stored["models"]),
            judge=ModelRef(**stored["judge"]) if stored.get("judge") else None,
            rounds=int(stored["rounds"]),
            limit=stored.get("limit"),
            categories=tuple(stored.get("categories") or ()),
            settings=SamplerSettings.from_dict(stored["settings"]),
            templates=_templates_from(stored.get("templates", {})),
            llama_cpp_version=stored.get("llama_cpp_version", ""),
            # Runs stored before these keys existed did stop early; their question_ids are
            # stored, so the seed only fills the field.
            stop_early=bool(stored.get("stop_early", True)),
            sample_seed=int(stored.get("sample_seed", 0)),
        )

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)


@dataclass(frozen=True)
class LikelihoodConfig:
    """A likelihood run's configuration: the exact questions and model files, and the framing
    that turns a question into the context its choices or reference answer are scored after
    (core/evaluation/likelihood.py)."""

    suite: str
    question_ids: tuple[str, ...]
    models: tuple[ModelRef, ...]
    framing: str
    limit: int | None
    categories: tuple[str, ...]
    llama_cpp_version: str
    sample_seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "question_ids": list(self.question_ids),
            "models": [asdict(m) for m in self.models],
            "framing": self.framing,
            "limit": self.limit,
            "categories": list(self.categories),
            "llama_cpp_version": self.llama_cpp_version,
            "sample_seed": self.sample_seed,
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> LikelihoodConfig:
        return cls(
            suite=stored["suite"],
            question_ids=tuple(stored["question_ids"]),
            models=tuple(ModelRef(**m) for m in stored["models"]),
            framing=stored["framing"],
            limit=stored.get("limit"),
            categories=tuple(stored.get("categories") or ()),
            llama_cpp_version=stored.get("llama_cpp_version", ""),
            sample_seed=int(stored.get("sample_seed", 0)),
        )

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)


RunConfig = (
    RefineConfig | BenchmarkConfig | LikelihoodConfig | LadderConfig | CodingConfig | LoadTestConfig
)
CONFIG_TYPES: dict[RunKind, type] = {
    RunKind.REFINE: RefineConfig,
    RunKind.BENCHMARK: BenchmarkConfig,
    RunKind.LIKELIHOOD: LikelihoodConfig,
    RunKind.LADDER: LadderConfig,
    RunKind.CODING: CodingConfig,
    RunKind.FINETUNE: FinetuneConfig,
    RunKind.CURVE: CurveConfig,
    RunKind.LOADTEST: LoadTestConfig,
}


@dataclass(frozen=True)
class Owner:
    """The process working on a run: its pid and its start time (seconds since the epoch), so
    that a pid the system has since given to another process is never mistaken for it."""

    pid: int
    started: float | None = None


@dataclass(frozen=True)
class RunRecord:
    """One row of the runs table."""

    id: str
    kind: RunKind
    status: RunStatus
    config: RunConfig
    created_at: datetime
    error: str | None = None
    stop_reason: str | None = None
    finished_at: datetime | None = None
    pid: int | None = None
    heartbeat_at: datetime | None = None
    total_units: int | None = None
    done_units: int = 0
    owner_started: float | None = None

    @property
    def owner(self) -> Owner | None:
        return Owner(self.pid, self.owner_started) if self.pid else None


@dataclass(frozen=True)
class RunProgress:
    done: int
    total: int


@dataclass(frozen=True)
class RunEstimate:
    """How big a benchmark is before it starts, and how long it should take from speeds
    measured on this machine. `seconds` covers the units that have a measurement behind them
    (None when none has); `unmeasured` names the work nothing was measured for yet."""

    questions: int
    answers: int  # units: one model's refined (and judged) answer to one question
    pairs: int  # units: one model-vs-model comparison by the judge
    seconds: float | None = None
    unmeasured: tuple[str, ...] = ()
    rough: tuple[str, ...] = ()  # estimated from generation speed only, not from earlier units
    measured_units: int = 0  # n: earlier units the estimate rests on
    measured_generations: int = 0  # n: stored generations, for the rough part

    @property
    def units(self) -> int:
        return self.answers + self.pairs

    @property
    def complete(self) -> bool:
        """Every unit has a measured speed behind it."""
        return self.seconds is not None and not self.unmeasured


@dataclass(frozen=True)
class RunState:
    """A benchmark run as a progress line shows it: status, finished and total units, and
    the seconds left (None when nothing measured says yet)."""

    run_id: str
    status: RunStatus
    done: int
    total: int
    eta_s: float | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0
