"""Records of likelihood runs: what is asked for, and each continuation a model scored."""

from __future__ import annotations

from dataclasses import dataclass

from core.types.engine import ModelInfo


@dataclass(frozen=True)
class LikelihoodSpec:
    """A likelihood run as the user asks for it, before its questions are chosen."""

    suite: str
    models: tuple[ModelInfo, ...]
    limit: int | None = None
    categories: tuple[str, ...] = ()
    sample_seed: int = 0  # which questions a limit draws from each category


@dataclass(frozen=True)
class ContinuationScore:
    """One continuation (a choice, or a reference answer) scored after a question's context.
    `text` is what was scored, the leading space included; `n_chars` is the length of the
    choice itself, without that space, which is what lm-evaluation-harness's acc_norm divides
    by."""

    choice: int  # the choice's position (0 for a reference answer)
    text: str
    is_answer: bool  # the right choice, or the reference answer
    logprob: float  # natural log of P(text | context), summed over its tokens
    n_tokens: int
    n_bytes: int  # UTF-8 bytes of `text`: the denominator of bits per byte
    n_chars: int
    context_tokens: int


@dataclass(frozen=True)
class LikelihoodPlan:
    """How big a likelihood run is before it starts: units of each measure, the questions the
    suite has that likelihood cannot score (left out), and the seconds it should take from
    units measured before (None until every model has some)."""

    questions: int
    mc_units: int
    reference_units: int
    left_out: int
    seconds: float | None = None
    measured_units: int = 0

    @property
    def units(self) -> int:
        return self.mc_units + self.reference_units
