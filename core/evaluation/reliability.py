"""Is this judge worth listening to? Its reliability, measured from its own judgments, and the
rule (docs/judging.md) that turns the measurements into usable / doubtful / unusable.

Each criterion counts only with enough evidence behind it; the verdict is the worst of the
criteria that do. A judge with no criterion backed by enough evidence is doubtful, never usable.
"""

from __future__ import annotations

import math
from collections import defaultdict

from core.evaluation.arena import agreement, run_human_and_judge
from core.store import Store
from core.types import JudgeEvidence, JudgeReliability, JudgeVerdict

# (doubtful from, unusable from) for each criterion, and the evidence each needs. Why these
# numbers: docs/judging.md.
PARSE_RATE = (0.98, 0.90)  # below these
TOP_SHARE = (0.60, 0.80)  # one rating given to this share of answers or more
INCONSISTENCY = (0.35, 0.50)  # above these
CONCORDANCE = (0.70, 0.55)  # at or below the unusable bound, below the doubtful one
KAPPA = (0.40, 0.20)  # below these
MIN_RATINGS = 10
MIN_PAIRS = 5
MIN_REFERENCE_COMPARISONS = 5
MIN_HUMAN_PAIRS = 10


def entropy_bits(counts: list[int]) -> float | None:
    total = sum(counts)
    if not total:
        return None
    return -sum(c / total * math.log2(c / total) for c in counts if c) + 0.0


def concordance(correct: tuple[float, ...], incorrect: tuple[float, ...]) -> float | None:
    """P(an answer that passed its reference check is rated above one that failed), ties
    counted half: the area under the ROC curve of the rating as a test of correctness."""
    if not correct or not incorrect:
        return None
    above = sum((c > i) + 0.5 * (c == i) for c in correct for i in incorrect)
    return above / (len(correct) * len(incorrect))


def assess(e: JudgeEvidence) -> JudgeReliability:
    """The rule of docs/judging.md, applied to one judge's evidence."""
    findings: list[tuple[JudgeVerdict, str]] = []
    backed = 0  # criteria about judging quality with enough evidence behind them

    def grade(doubtful: bool, unusable: bool, reason: str) -> None:
        if unusable:
            findings.append((JudgeVerdict.UNUSABLE, reason))
        elif doubtful:
            findings.append((JudgeVerdict.DOUBTFUL, reason))

    parse_rate = e.parsed / e.judgments if e.judgments else None
    if parse_rate is not None:
        grade(
            parse_rate < PARSE_RATE[0],
            parse_rate < PARSE_RATE[1],
            f"{parse_rate:.0%} of {e.judgments} verdicts parsed",
        )
    counts = [n for _, n in e.rating_counts]
    ratings = sum(counts)
    top_rating, top_share = None, None
    if ratings:
        top_rating, top_n = max(e.rating_counts, key=lambda rc: rc[1])
        top_share = top_n / ratings
    if ratings >= MIN_RATINGS:
        backed += 1
        grade(
            top_share >= TOP_SHARE[0],
            top_share >= TOP_SHARE[1],
            f"rates {top_share:.0%} of {ratings} answers {top_rating:g}",
        )
    inconsistency = 1 - e.consistent_pairs / e.pairs if e.pairs else None
    if e.pairs >= MIN_PAIRS:
        backed += 1
        grade(
            inconsistency > INCONSISTENCY[0],
            inconsistency > INCONSISTENCY[1],
            f"changes its verdict with the answer order in {inconsistency:.0%} of {e.pairs} pairs",
        )
    reference = concordance(e.ratings_correct, e.ratings_incorrect)
    comparisons = len(e.ratings_correct) * len(e.ratings_incorrect)
    if reference is not None and comparisons >= MIN_REFERENCE_COMPARISONS:
        backed += 1
        grade(
            reference < CONCORDANCE[0],
            reference <= CONCORDANCE[1],
            f"rates a correct answer above a wrong one {reference:.0%} of the time "
            f"({comparisons} comparisons)",
        )
    if e.human_kappa is not None and e.human_pairs >= MIN_HUMAN_PAIRS:
        backed += 1
        grade(
            e.human_kappa < KAPPA[0],
            e.human_kappa < KAPPA[1],
            f"agrees with human votes at kappa {e.human_kappa:.2f} (n={e.human_pairs})",
        )
    if e.base_model:
        findings.append((JudgeVerdict.DOUBTFUL, "a base model, not instruction-tuned"))
    if not backed:
        findings.append((JudgeVerdict.DOUBTFUL, "too few judgments to tell"))
    verdict = max((v for v, _ in findings), key=lambda v: v.severity, default=JudgeVerdict.USABLE)
    reasons = tuple(r for v, r in sorted(findings, key=lambda f: -f[0].severity))
    return JudgeReliability(
        judge=e.judge,
        verdict=verdict,
        reasons=reasons,
        base_model=e.base_model,
        judgments=e.judgments,
        parse_rate=parse_rate,
        ratings=ratings,
        distinct_ratings=len([n for n in counts if n]),
        top_rating=top_rating,
        top_share=top_share,
        entropy_bits=entropy_bits(counts),
        pairs=e.pairs,
        position_inconsistency=inconsistency,
        reference_comparisons=comparisons,
        reference_concordance=reference,
        human_pairs=e.human_pairs,
        human_kappa=e.human_kappa,
    )


def evidence(store: Store, run_id: str | None = None) -> dict[str, JudgeEvidence]:
    """Each judge's evidence over one run, or over all runs."""
    queries = store.judges
    ratings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for r in queries.rating_counts(run_id).itertuples():
        ratings[r.judge].append((float(r.rating), int(r.n)))
    pairs = {
        r.judge: (int(r.pairs), int(r.consistent)) for r in queries.consistency(run_id).itertuples()
    }
    checked: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r in queries.reference_ratings(run_id).itertuples():
        checked[r.judge][0 if r.correct else 1].append(float(r.rating))
    humans: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for voted_run, judge in queries.runs_with_votes(run_id):
        human, verdicts = run_human_and_judge(store, voted_run)
        humans[judge][0].extend(human)
        humans[judge][1].extend(verdicts)
    found = {}
    for c in queries.counts(run_id).itertuples():
        with_humans = agreement(*humans[c.judge]) if c.judge in humans else None
        n_pairs, consistent = pairs.get(c.judge, (0, 0))
        found[c.judge] = JudgeEvidence(
            judge=c.judge,
            base_model=bool(c.base_model),
            judgments=int(c.judgments),
            parsed=int(c.parsed),
            rating_counts=tuple(ratings[c.judge]),
            pairs=n_pairs,
            consistent_pairs=consistent,
            ratings_correct=tuple(checked[c.judge][0]),
            ratings_incorrect=tuple(checked[c.judge][1]),
            human_pairs=with_humans.pairs if with_humans else 0,
            human_agreement=with_humans.agreement if with_humans else None,
            human_kappa=with_humans.cohen_kappa if with_humans else None,
        )
    return found


def judge_reliability(store: Store, run_id: str | None = None) -> dict[str, JudgeReliability]:
    """Every judge's reliability over one run, or over all runs, by judge name."""
    return {name: assess(e) for name, e in evidence(store, run_id).items()}
