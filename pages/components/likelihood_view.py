"""A likelihood run on the Results page: multiple-choice accuracy (acc, acc_norm) and the
reference answers' likelihood per model and category, each with its 95% interval and n, and
a drill-down to each question's scored choices."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import likelihood
from core.app.formatting import estimate
from pages.components.run_progress import run_progress
from pages.components.text import escape

CAPTION = (
    "Likelihood (docs/likelihood.md), no judge: each choice is scored after "
    "“Question: …\\nAnswer:”. **acc**: the choice with the highest summed log-probability is "
    "the model's answer; **acc_norm**: the highest log-probability per character of the "
    "choice (lm-evaluation-harness's length normalisation). Wilson 95% intervals. Reference "
    "answers: **score** 2^-bpb, the geometric-mean probability per byte (bootstrap 95% "
    "interval), and bits per byte pooled over the answers; bytes are the same for every "
    "tokenizer, so both compare across models."
)


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": r["model"],
            "category": r["category"],
            "units": r["items"],
            "MC accuracy (acc)": estimate(r, "mc_accuracy", "{:.0%}"),
            "MC accuracy (acc_norm)": estimate(r, "mc_accuracy_norm", "{:.0%}"),
            "chance": r["chance"],
            "reference score (2^-bpb)": estimate(r, "reference_score"),
            "reference bits per byte": r["reference_bits_per_byte"],
            "failed": r["failed_items"],
        }
        for r in rows
    )


def _drill_down(run_id: str, units: pd.DataFrame) -> None:
    st.subheader("Question by question")
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", sorted(units.model.unique()), key="results_lk_model")
    subset = units[units.model == model].set_index("item_no")
    labels = {no: f"{r.question_id} ({r.category})" for no, r in subset.iterrows()}
    item_no = c2.selectbox("Question", list(labels), format_func=labels.get, key="results_lk_item")
    row = subset.loc[item_no]
    question = likelihood.questions(run_id).get(row.question_id)
    if question is not None:
        st.markdown(f"**Question:** {escape(question.text)}")
    if row.status != "done":
        st.error(f"This unit failed: {escape(str(row.error))}")
        return
    scored = likelihood.unit(run_id, int(item_no))
    if row.kind == "mc_likelihood":
        verdict = "right" if row.correct_norm else "wrong"
        st.caption(
            f"By acc: choice {row.predicted}; by acc_norm: choice {row.predicted_norm} "
            f"({verdict}); the right one is choice {row.gold}."
        )
    else:
        st.caption(f"{row.bits_per_byte:.3f} bits per byte, score {row.reference_score:.3f}.")
    # Choice texts come from the imported file: shown as table cells, never as markdown.
    st.dataframe(scored, hide_index=True, width="stretch")


def likelihood_report(run_id: str) -> bool:
    """Draw the run's results if it is a likelihood run; False (nothing drawn) otherwise."""
    if not likelihood.is_likelihood(run_id):
        return False
    report = likelihood.results(run_id)
    run_progress(run_id)  # live while the run is going
    st.caption(CAPTION)
    if report.summary.empty:
        st.caption("No scored units yet.")
        return True
    st.dataframe(_table(report.to_json()["results"]), hide_index=True, width="stretch")
    st.download_button(
        "Download CSV (numbers: value, low, high, n)",
        report.summary.to_csv(index=False),
        f"likelihood-{run_id}.csv",
        key="results_lk_csv",
    )
    _drill_down(run_id, report.units)
    return True
