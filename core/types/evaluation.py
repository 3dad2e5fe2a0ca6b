"""Records of the evaluation layer: questions, prompt templates, refinement steps, judgments
and the typed key of a benchmark unit."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.types.engine import Generation, SamplerSettings


@dataclass(frozen=True)
class Question:
    id: str
    category: str
    text: str
    turns: tuple[str, ...] = ()
    reference: str | None = None
    reference_kind: str | None = None
    tolerance: float | None = None
    # A multiple-choice question's choices; its reference is then the right choice's text
    # (reference_kind "choice"). Empty for an open question.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowError:
    """One rejected row of an imported file."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    kind: str  # critique | verdict | refine
    version: int
    text: str


class StopReason(StrEnum):
    """Why a refinement ended."""

    ROUNDS_COMPLETED = "rounds_completed"
    NO_ISSUES_FOUND = "no_issues_found"  # the critique's verdict said nothing needs changing
    UNCHANGED_ANSWER = "unchanged_answer"  # the rewrite came back the same as the answer before
    CONTEXT_FULL = "context_full"  # the conversation no longer fits the model's context

    @property
    def explanation(self) -> str:
        return _STOP_REASON_TEXT[self]

    @classmethod
    def describe(cls, value: str | None) -> str:
        """Plain words for a stored stop reason; unknown values are shown as they are."""
        try:
            return cls(value).explanation
        except ValueError:
            return str(value)


_STOP_REASON_TEXT = {
    StopReason.ROUNDS_COMPLETED: "all requested rounds ran",
    StopReason.NO_ISSUES_FOUND: "the critique found nothing to fix",
    StopReason.UNCHANGED_ANSWER: "the rewrite no longer changed the answer",
    StopReason.CONTEXT_FULL: "the conversation filled the model's context",
}


@dataclass(frozen=True)
class RefineStep:
    round: int
    kind: str  # baseline | critique | verdict | refined
    text: str
    generation: Generation
    # The conversation the model had already processed before this step (previous prompt plus
    # its answer); ideally all of it is served from the KV cache.
    prefix_tokens: int = 0

    @property
    def prefix_recomputed(self) -> int:
        return max(0, self.prefix_tokens - self.generation.prompt_tokens_reused)


@dataclass(frozen=True)
class RefineTotals:
    steps: int
    prompt_tokens: int
    prompt_tokens_evaluated: int
    prompt_tokens_reused: int
    completion_tokens: int
    seconds: float
    reusable_prefix_tokens: int
    prefix_tokens_recomputed: int
    prefix_recomputed_fraction: float


@dataclass(frozen=True)
class RefineResult:
    prompt: str
    rounds_requested: int
    steps: tuple[RefineStep, ...]
    stop_reason: StopReason
    templates: dict[str, PromptTemplate] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.steps[0].text

    @property
    def final(self) -> str:
        refined = [s for s in self.steps if s.kind == "refined"]
        return refined[-1].text if refined else self.baseline

    @property
    def rounds_done(self) -> int:
        return sum(1 for s in self.steps if s.kind == "refined")

    def totals(self) -> RefineTotals:
        gens = [s.generation for s in self.steps]
        prefix = sum(s.prefix_tokens for s in self.steps)
        recomputed = sum(s.prefix_recomputed for s in self.steps)
        return RefineTotals(
            steps=len(gens),
            prompt_tokens=sum(g.prompt_tokens for g in gens),
            prompt_tokens_evaluated=sum(g.prompt_tokens_evaluated for g in gens),
            prompt_tokens_reused=sum(g.prompt_tokens_reused for g in gens),
            completion_tokens=sum(g.completion_tokens for g in gens),
            seconds=sum(g.total_s for g in gens),
            reusable_prefix_tokens=prefix,
            prefix_tokens_recomputed=recomputed,
            prefix_recomputed_fraction=recomputed / prefix if prefix else 0.0,
        )


@dataclass(frozen=True)
class Judgment:
    kind: str  # single | pair
    subject: str  # what was judged, e.g. "baseline", "refined", "baseline|refined"
    status: str  # ok | failed
    score: float | None = None
    verdict: str | None = None  # A | B | tie, for pairs
    order_ab: str | None = None  # "AB": first subject shown as A; "BA": swapped
    error: str | None = None
    # From the judge's token probabilities, where the backend exposes them: the expected
    # rating over the allowed ratings (G-Eval), and for pairs P(A), P(B), P(tie).
    expected_score: float | None = None
    p_a: float | None = None
    p_b: float | None = None
    p_tie: float | None = None


class ItemKind(StrEnum):
    ANSWER = "answer"  # one model refines its answer to one question
    PAIR = "pair"  # two models' final answers to one question, judged against each other
    # Likelihood runs (core/evaluation/likelihood.py): no text is generated.
    MC_LIKELIHOOD = "mc_likelihood"  # each choice of a multiple-choice question scored
    REFERENCE_LIKELIHOOD = "reference_likelihood"  # a question's reference answer scored
    # Quantization ladders (core/evaluation/ladder.py); question_id holds the type.
    QUANTIZE = "quantize"  # write one quantized copy of the source
    LADDER_RUNG = "ladder_rung"  # measure one model of the ladder
    # Coding runs (core/evaluation/coding.py); question_id holds the text's id.
    CODE = "code"  # one model proposes labels for one text
    # Learning curves (core/evaluation/curve.py); question_id shows the point, never parsed.
    CURVE_POINT = "curve_point"  # one method of one model at one n in one repeat
    # Load tests (core/evaluation/loadtest.py); question_id holds the concurrency level.
    LOAD_LEVEL = "load_level"  # every request of one concurrency level


@dataclass(frozen=True, order=True)
class ItemKey:
    """What one unit of a benchmark run is about. Stored as separate columns, so no model
    name or question id ever has to be split back out of a string."""

    kind: ItemKind
    question_id: str
    model: str
    other_model: str | None = None  # the second model of a pair

    @classmethod
    def answer(cls, model: str, question_id: str) -> ItemKey:
        return cls(ItemKind.ANSWER, question_id, model)

    @classmethod
    def pair(cls, model: str, other_model: str, question_id: str) -> ItemKey:
        return cls(ItemKind.PAIR, question_id, model, other_model)


@dataclass(frozen=True)
class RunUnit:
    """A unit of a run: its number (execution order, unique within the run) and its key."""

    no: int
    key: ItemKey
    category: str


@dataclass(frozen=True)
class ItemOutcome:
    """How one unit ended, as written to the store together with its judgments."""

    status: str  # done | failed
    seconds: float | None = None
    error: str | None = None
    model_sha256: str | None = None
    baseline: str | None = None
    final: str | None = None
    stop_reason: str | None = None
    rounds_done: int | None = None
    baseline_correct: bool | None = None
    final_correct: bool | None = None


@dataclass(frozen=True)
class ArenaPair:
    """Two answers shown side by side in the arena; `item_no` names the unit they come from."""

    item_no: int
    question: str
    left_label: str
    left_text: str
    right_label: str
    right_text: str


@dataclass(frozen=True)
class RefineRequest:
    """One refinement as asked for: the prompt, how many rounds, sampling and templates
    (None: the built-in templates), and whether to stop once the critique finds nothing to
    fix (False: the paper's fixed rounds)."""

    prompt: str
    rounds: int = 2
    settings: SamplerSettings = field(default_factory=SamplerSettings)
    templates: dict[str, PromptTemplate] | None = None
    stop_early: bool = True


@dataclass(frozen=True)
class RefineOutcome:
    """What a stored refinement came to: its run (None when the request was refused before a
    run existed), the result when it finished, or the error that ended it. A failed run keeps
    the steps it finished, under run_id."""

    run_id: str | None
    result: RefineResult | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None
