"""A likelihood run's results per model and category: multiple-choice accuracy by summed
log-probability (acc) and by log-probability per character (acc_norm), each with a Wilson 95%
interval and n, and the reference answers' bits per byte and 2^-bpb score with a seeded
bootstrap interval. docs/likelihood.md defines every figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import InvalidRequest
from core.evaluation.stats import mean_ci, wilson_ci
from core.store import Store
from core.types import ItemKind, RunKind, RunProgress, RunRecord


@dataclass(frozen=True)
class LikelihoodResults:
    run: RunRecord
    progress: RunProgress
    summary: pd.DataFrame  # per model and category, plus an "all" row per model
    units: pd.DataFrame  # one row per finished unit (see LikelihoodTable.units)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "kind": str(self.run.kind),
            "status": str(self.run.status),
            "progress": {"done": self.progress.done, "total": self.progress.total},
            "framing": self.run.config.framing,
            # Missing figures as null, never NaN (which is no JSON value).
            "results": self.summary.astype(object)
            .where(self.summary.notna(), None)
            .to_dict(orient="records"),
        }


def corpus_bits_per_byte(done: pd.DataFrame) -> float | None:
    """Bits per byte over all reference answers together: total bits / total bytes."""
    ref = done[done.kind == ItemKind.REFERENCE_LIKELIHOOD]
    if ref.empty:
        return None
    return float(-ref.answer_logprob.sum() / math.log(2) / ref.answer_bytes.sum())


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    done = group[group.status == "done"]
    mc = done[done.kind == ItemKind.MC_LIKELIHOOD]
    ref = done[done.kind == ItemKind.REFERENCE_LIKELIHOOD]
    return {
        "items": len(group),
        "failed_items": int((group.status == "failed").sum()),
        "mc_items": len(mc),
        "chance": float((1 / mc.choices).mean()) if len(mc) else None,
        **wilson_ci(int(mc.correct.sum()), len(mc)).as_dict("mc_accuracy"),
        **wilson_ci(int(mc.correct_norm.sum()), len(mc)).as_dict("mc_accuracy_norm"),
        "reference_items": len(ref),
        **mean_ci(ref.reference_score.tolist()).as_dict("reference_score"),
        "reference_bits_per_byte": corpus_bits_per_byte(done),
        "seconds_per_item": float(done.seconds.mean()) if len(done) else None,
    }


def summarise(units: pd.DataFrame) -> pd.DataFrame:
    """Per model and category, plus an "all" row per model."""
    rows = []
    for model, per_model in units.groupby("model", sort=True):
        for category, group in per_model.groupby("category", sort=True):
            rows.append({"model": model, "category": category, **_summary(group)})
        rows.append({"model": model, "category": "all", **_summary(per_model)})
    return pd.DataFrame(rows)


def likelihood_results(store: Store, run_id: str) -> LikelihoodResults:
    run = store.runs.get(run_id)
    if run.kind != RunKind.LIKELIHOOD:
        raise InvalidRequest(f"Run {run_id} is a {run.kind} run, not a likelihood run.")
    units = store.likelihood.units(run_id)
    return LikelihoodResults(
        run=run,
        progress=RunProgress(run.done_units, run.total_units or 0),
        summary=summarise(units) if not units.empty else pd.DataFrame(),
        units=units,
    )
