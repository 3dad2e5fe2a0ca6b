"""The Trade-offs ranking table: which columns, in what order, under what names."""

from __future__ import annotations

import streamlit as st

RANKING_COLUMNS = [
    "rank",
    "model",
    "perfics",
    "performance",
    "gain",
    "gain_relative",
    "cost",
    "memory_gb",
    "seconds_per_answer",
    "money_per_1000",
    "items",
    "quality_items",
    "performance_source",
    "judge_verdict",
    "on_pareto",
]


def ranking_column_config(basis: str, currency: str) -> dict:
    number = st.column_config.NumberColumn
    return {
        "rank": number("Rank"),
        "model": st.column_config.TextColumn("Model"),
        "perfics": number("PeRFICS", format="%.3f"),
        "performance": number("Quality (0–1)", format="%.3f", help="After refinement."),
        "gain": number("Gain from refinement", format="%+.3f"),
        "gain_relative": number("Gain (relative)", format="percent"),
        "cost": number(f"Cost ({basis})", format="%.3f"),
        "memory_gb": number("Memory (GB)", format="%.3f"),
        "seconds_per_answer": number("Seconds per answer", format="%.2f"),
        "money_per_1000": number(f"{currency} per 1,000 answers", format="%.4f"),
        "items": number("Questions", help="Questions answered."),
        "quality_items": number(
            "Quality n",
            help="Answers the quality figure rests on: reference checks and ratings by a "
            "trusted judge.",
        ),
        "performance_source": st.column_config.TextColumn("Quality from"),
        "judge_verdict": st.column_config.TextColumn("Judge"),
        "on_pareto": st.column_config.CheckboxColumn("On the Pareto frontier"),
    }
