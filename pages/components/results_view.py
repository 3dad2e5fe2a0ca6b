"""Run picker and number formatting shared by the Results and Arena pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app.runs import overview


def with_ci(value, low, high, n, fmt: str = "{:.2f}") -> str:
    if value is None or value != value:
        return "–"
    if low is None or low != low:
        return f"{fmt.format(value)} (n={n})"
    return f"{fmt.format(value)} [{fmt.format(low)}–{fmt.format(high)}] (n={n})"


def _accuracy(r: dict) -> str:
    if not r["reference_items"]:
        return "–"
    return f"{r['baseline_accuracy']:.0%}→{r['final_accuracy']:.0%} (n={r['reference_items']})"


def results_table(rows: list[dict]) -> pd.DataFrame:
    table = []
    for r in rows:
        table.append(
            {
                "model": r["model"],
                "category": r["category"],
                "items": r["items"],
                "baseline score": with_ci(
                    r["baseline_score"],
                    r["baseline_score_low"],
                    r["baseline_score_high"],
                    r["baseline_score_n"],
                ),
                "refined score": with_ci(
                    r["refined_score"],
                    r["refined_score_low"],
                    r["refined_score_high"],
                    r["refined_score_n"],
                ),
                "improvement %": None
                if r["improvement_pct"] is None
                else round(r["improvement_pct"], 1),
                "refined win rate": with_ci(
                    r["refined_win_rate"],
                    r["refined_win_rate_low"],
                    r["refined_win_rate_high"],
                    r["refined_win_rate_n"],
                    "{:.0%}",
                ),
                "W/T/L": f"{r['refined_wins']}/{r['ties']}/{r['baseline_wins']}",
                "accuracy base→final": _accuracy(r),
                "failed": r["failed_items"],
            }
        )
    return pd.DataFrame(table)


def run_label(r) -> str:
    """How every run picker names a benchmark run: when, which suite, which models."""
    return f"{r.created_at:%Y-%m-%d %H:%M} · {r.suite} · {r.models}"


def pick_run(key: str) -> str | None:
    """A benchmark-run picker, newest first; None (with a hint) when there is no run."""
    runs = overview()
    if runs.empty:
        st.info("No benchmark runs yet. Start one on the Benchmarks page or with `perfics run`.")
        return None
    labels = {
        r.id: f"{run_label(r)} · {r.status} · {r.items_done}/{r.total}" for r in runs.itertuples()
    }
    return st.selectbox("Run", list(labels), format_func=labels.get, key=key)
