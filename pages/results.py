"""Results: baseline against refined, per model and category, with confidence intervals."""

import streamlit as st

from core.app.endpoints import data_left
from core.app.formatting import model_label
from core.app.options import describe_refinement_outcome
from core.app.results import results, run_details
from core.errors import PerficsError
from core.types import StopReason
from pages.components.likelihood_view import likelihood_report
from pages.components.results_view import pick_run, results_table
from pages.components.run_progress import run_progress
from pages.components.text import diff_markdown, escape, show_model_text

st.title("Results")
try:
    run_id = pick_run("results_run")
    if run_id is None:
        st.stop()
    if likelihood_report(run_id):  # a likelihood run: its own figures, no judge
        st.stop()
    report = results(run_id)
    details = run_details(run_id)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

run_progress(run_id)  # status, items and time left; live while the run is going
if left := data_left(report.run.config):
    st.warning(escape(left))
st.caption(
    "Reference accuracy comes from the questions' reference checks; scores are the judge's "
    "1–10 ratings, sampled and probability-weighted (E[·]); intervals are seeded bootstrap "
    "95% CIs. Improvement % = (refined − baseline) / baseline, the paper's headline statistic."
)
judge, reliability = report.judge, report.reliability
if judge is None:
    st.caption("No judge in this run: only reference checks are available.")
elif reliability is not None:
    self_note = (
        " It also answered, so it judges itself."
        if judge.name in report.run.config.model_names
        else ""
    )
    message = (
        f"Judge {judge.name}: **{reliability.verdict}**. "
        + ("; ".join(reliability.reasons) or "every criterion within bounds")
        + f". (docs/judging.md){self_note}"
    )
    {"usable": st.caption, "doubtful": st.warning, "unusable": st.error}[reliability.verdict](
        message
    )

leaving = {m.name for m in report.run.config.models if m.leaves_machine}
if not report.summary.empty:
    label = reliability.verdict if reliability else "none"
    table = results_table(report.summary.to_dict(orient="records"), str(label), leaving)
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV (numbers: value, low, high, n)",
        report.summary.to_csv(index=False),
        f"results-{run_id}.csv",
        key="results_csv",
    )

st.subheader("Question by question")
items = details.items
if items.empty:
    st.caption("No answered questions yet.")
    st.stop()
c1, c2 = st.columns(2)
names = sorted(items.model_name.unique())
model = c1.selectbox(
    "Model", names, format_func=lambda n: model_label(n, n in leaving), key="results_model"
)
subset = items[items.model_name == model]
labels = {r.item_no: f"{r.question_id} ({r.category})" for r in subset.itertuples()}
item_no = c2.selectbox("Question", list(labels), format_func=labels.get, key="results_item")
row = subset.set_index("item_no").loc[item_no]
q = details.questions.get(row.question_id)
if q is not None:
    st.markdown(f"**Question:** {escape(q.text)}")
    if q.reference:
        st.caption(f"Reference ({q.reference_kind}): {escape(q.reference)}")
if row.status != "done":
    st.error(f"This item failed: {escape(str(row.error))}")
    st.stop()


def score(value) -> str:
    return "–" if value is None or value != value else f"{value:g}"


left, right = st.columns(2)
left.markdown(f"**Baseline** · score {score(row.baseline_score)}")
show_model_text(left, row.baseline)
right.markdown(
    f"**Refined** ({row.rounds_done} round(s), {StopReason.describe(row.stop_reason)}) · "
    f"score {score(row.refined_score)}"
)
show_model_text(right, row.final)
st.caption(f"Judge, both orders: {describe_refinement_outcome(row.refined_outcome)}")
with st.expander("What refinement changed"):
    st.markdown(
        diff_markdown(row.baseline, row.final) if row.final != row.baseline else "_No change._"
    )
