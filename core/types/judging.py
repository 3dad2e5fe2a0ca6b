"""Records of judge reliability: the evidence measured from a judge's own judgments and the
verdict the rule in docs/judging.md turns it into."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class JudgeVerdict(StrEnum):
    USABLE = "usable"
    DOUBTFUL = "doubtful"  # shown with a warning; PeRFICS uses it and says so
    UNUSABLE = "unusable"  # never used for quality unless the user accepts it explicitly

    @property
    def severity(self) -> int:
        return {"usable": 0, "doubtful": 1, "unusable": 2}[self.value]


@dataclass(frozen=True)
class JudgeEvidence:
    """What a judge's judgments show, over one run or all runs. Rates are None without data."""

    judge: str
    base_model: bool  # no chat template: a model that continues text, not one that follows
    judgments: int
    parsed: int
    rating_counts: tuple[tuple[float, int], ...] = ()  # (rating, how many), parsed ratings only
    pairs: int = 0  # pairs judged in both orders
    consistent_pairs: int = 0
    # Ratings of answers whose reference check passed against those whose check failed.
    ratings_correct: tuple[float, ...] = ()
    ratings_incorrect: tuple[float, ...] = ()
    human_pairs: int = 0  # pairs with both a human vote and the judge's combined verdict
    human_agreement: float | None = None
    human_kappa: float | None = None


@dataclass(frozen=True)
class JudgeReliability:
    judge: str
    verdict: JudgeVerdict
    reasons: tuple[str, ...]  # why it is not usable, or what evidence was missing
    base_model: bool
    judgments: int
    parse_rate: float | None
    ratings: int
    distinct_ratings: int
    top_rating: float | None
    top_share: float | None
    entropy_bits: float | None
    pairs: int
    position_inconsistency: float | None
    reference_comparisons: int  # correct x incorrect answer pairs
    reference_concordance: float | None  # P(correct rated above incorrect), ties count half
    human_pairs: int
    human_kappa: float | None

    @property
    def usable(self) -> bool:
        return self.verdict == JudgeVerdict.USABLE

    def label(self) -> str:
        """One line for captions and tables: the verdict and its main reason."""
        return f"{self.verdict}" + (f" ({self.reasons[0]})" if self.reasons else "")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": str(self.verdict), "reasons": list(self.reasons)}
