"""Run picker and number formatting shared by the Results and Arena pages."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import streamlit as st

from core.app.formatting import data_left_text, estimate, model_label
from core.app.runs import overview
from pages.components.quick_start import quick_start


def results_table(
    rows: list[dict], judge_label: str, leaving: Collection[str] = ()
) -> pd.DataFrame:
    """The summary for reading: each figure with its 95% CI and n, each judge-based column
    named with the judge's reliability verdict. Downloads use the numeric summary instead.
    `leaving`: models whose prompts went to another machine, marked as such."""
    judged = f" · judge {judge_label}"
    table = []
    for r in rows:
        table.append(
            {
                "model": model_label(r["model"], r["model"] in leaving),
                "category": r["category"],
                "items": r["items"],
                "reference accuracy, baseline": estimate(r, "baseline_accuracy", "{:.0%}"),
                "reference accuracy, refined": estimate(r, "final_accuracy", "{:.0%}"),
                f"baseline score{judged}": estimate(r, "baseline_score"),
                f"refined score{judged}": estimate(r, "refined_score"),
                f"E[baseline]{judged}": estimate(r, "baseline_expected"),
                f"E[refined]{judged}": estimate(r, "refined_expected"),
                "improvement %": None
                if r["improvement_pct"] is None
                else round(r["improvement_pct"], 1),
                f"refined win rate{judged}": estimate(r, "refined_win_rate", "{:.0%}"),
                "W/T/L": f"{r['refined_wins']}/{r['ties']}/{r['baseline_wins']}",
                "failed": r["failed_items"],
            }
        )
    return pd.DataFrame(table)


def run_label(r) -> str:
    """How every run picker names a run: when, which suite, which models (and "likelihood"
    for a likelihood run)."""
    kind = " · likelihood" if getattr(r, "kind", None) == "likelihood" else ""
    left = data_left_text(getattr(r, "data_left_via", None))
    return f"{r.created_at:%Y-%m-%d %H:%M} · {r.suite} · {r.models}{kind}" + (
        f" · {left}" if left else ""
    )


def pick_run(key: str, answers_only: bool = False) -> str | None:
    """A run picker, newest first; None (with a hint) when there is no run. `answers_only`:
    benchmark runs alone, leaving out likelihood runs (which have no answers)."""
    runs = overview()
    if answers_only:
        runs = runs[runs.kind == "benchmark"]
    if runs.empty:
        st.info("No benchmark runs yet. Start one on the Benchmarks page or with `perfics run`.")
        quick_start(key)
        return None
    labels = {
        r.id: f"{run_label(r)} · {r.status} · {r.items_done}/{r.total}" for r in runs.itertuples()
    }
    return st.selectbox("Run", list(labels), format_func=labels.get, key=key)
