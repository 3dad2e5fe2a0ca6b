"""Which quality numbers PeRFICS may use, and the quality it gets from them.

References first: an answer whose question has a reference check is scored by the check (1 or
0); the judge fills in only for answers without one, and only a judge that is not unusable
(docs/judging.md) unless the user accepts it explicitly. Every figure says where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.errors import PerficsError
from core.evaluation.metrics import improvement_pct
from core.types import JudgeReliability, JudgeVerdict

QUALITY_COLUMNS = [
    "performance",
    "baseline_performance",
    "quality_items",  # the answers quality rests on: reference checks plus trusted ratings
    "reference_items",
    "judged_items",
    "excluded_items",
    "performance_source",
    "judge",
    "judge_verdict",
]


class UnreliableJudge(PerficsError):
    """Ranking would rest on a judge the reliability rule calls unusable."""


@dataclass(frozen=True)
class QualityPolicy:
    judges: dict[str, JudgeReliability]
    accept_unreliable: bool = False

    def trusts(self, judge: str | None) -> bool:
        if judge is None or pd.isna(judge):
            return False
        found = self.judges.get(judge)
        if found is None:  # a judge with no stored judgment has nothing to trust
            return False
        return self.accept_unreliable or found.verdict != JudgeVerdict.UNUSABLE

    def verdict(self, judges: list[str]) -> str:
        labels = [f"{j}: {self.judges[j].label()}" for j in judges if j in self.judges]
        return "; ".join(labels)


def _source(reference_n: int, judged_n: int) -> str:
    parts = []
    if reference_n:
        parts.append(f"reference (n={reference_n})")
    if judged_n:
        parts.append(f"judge (n={judged_n})")
    return " + ".join(parts) if parts else "none"


def combine(parts: pd.DataFrame, keys: list[str], policy: QualityPolicy) -> pd.DataFrame:
    """One row per key (e.g. model, or model and category) with refined and baseline quality
    on [0, 1]: the item-weighted mean of reference checks and trusted judge ratings."""
    if parts.empty:
        return pd.DataFrame(columns=[*keys, "items", *QUALITY_COLUMNS, "improvement_pct"])
    df = parts.copy()
    trusted = df.judge.map(policy.trusts).astype(bool)
    df["ref_n"] = df.reference_items.fillna(0)
    df["judge_n"] = df.judged_items.fillna(0).where(trusted, 0)
    df["excluded_n"] = df.judged_items.fillna(0).where(~trusted & df.judge.notna(), 0)
    df["ref_final"] = (df.final_accuracy.fillna(0) * df.ref_n).astype(float)
    df["ref_base"] = (df.baseline_accuracy.fillna(0) * df.ref_n).astype(float)
    df["judge_final"] = (df.judge_refined.fillna(0) * df.judge_n).astype(float)
    df["judge_base"] = (df.judge_baseline.fillna(0) * df.judge_n).astype(float)
    rows = []
    for key, group in df.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ref_n, judge_n = int(group.ref_n.sum()), int(group.judge_n.sum())
        n = ref_n + judge_n
        judges = sorted({j for j in group.judge if isinstance(j, str)})
        refined = (group.ref_final.sum() + group.judge_final.sum()) / n if n else None
        baseline = (group.ref_base.sum() + group.judge_base.sum()) / n if n else None
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "items": int(group["items"].sum()),
                "performance": refined,
                "baseline_performance": baseline,
                "quality_items": n,
                "reference_items": ref_n,
                "judged_items": judge_n,
                "excluded_items": int(group.excluded_n.sum()),
                "performance_source": _source(ref_n, judge_n),
                "judge": ", ".join(judges) or None,
                "judge_verdict": policy.verdict(judges) or None,
            }
        )
    table = pd.DataFrame(rows)
    table["improvement_pct"] = improvement_pct(table.baseline_performance, table.performance)
    return table


def refuse_unless_trusted(
    table: pd.DataFrame, policy: QualityPolicy, strict: bool = True
) -> list[str]:
    """Notes on what was left out. When strict, raises UnreliableJudge if a model's only
    quality source is an unusable judge the user has not accepted; otherwise that model is
    left without quality and a note says why."""
    if table.empty:
        return []
    excluded = table[table.excluded_items > 0]
    stranded = excluded[excluded.performance.isna()]
    unusable = sorted(
        name for name, r in policy.judges.items() if r.verdict == JudgeVerdict.UNUSABLE
    )
    reasons = "; ".join(f"{name} is {policy.judges[name].label()}" for name in unusable)
    notes = []
    if not stranded.empty:
        message = (
            f"PeRFICS will not rank on an unreliable judge. {reasons}. "
            f"{', '.join(stranded.model)} {'has' if len(stranded) == 1 else 'have'} no other "
            "quality source (no question with a reference check). Run questions with "
            "references, judge with an instruction-tuned model, or accept the judge "
            "explicitly (--accept-unreliable-judge, or the checkbox on the Trade-offs page)."
        )
        if strict:
            raise UnreliableJudge(message)
        notes.append(message)
    used = {name for names in table.judge.dropna() for name in names.split(", ")}
    accepted = sorted(j for j in unusable if policy.accept_unreliable and j in used)
    if accepted:
        notes.append(
            f"Ranked with judge(s) {', '.join(accepted)} although the reliability rule calls "
            "them unusable, because you accepted that."
        )
    if excluded.empty:
        return notes
    return notes + [
        f"{reasons}. Its ratings of {int(excluded.excluded_items.sum())} answer(s) were left "
        "out; quality comes from reference checks only."
    ]
