"""Results: baseline against refined, per model and category, with confidence intervals."""

import streamlit as st

from core.errors import PerficsError
from core.results import item_table, run_results
from pages import resources
from pages.refine_view import diff_markdown
from pages.results_view import pick_run, results_table

st.title("Results")
store = resources.store()
try:
    run_id = pick_run(store, "results_run")
    if run_id is None:
        st.stop()
    results = run_results(store, run_id)
    items = item_table(store, run_id)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

progress = results["progress"]
st.caption(
    f"Status: {results['status']} · {progress['done']} of {progress['total']} items. "
    "Scores are the judge's 1–10 ratings; intervals are seeded bootstrap 95% CIs. "
    "Improvement % = (refined − baseline) / baseline, the paper's headline statistic."
)
stats = results["judge_stats"]
judge = results["judge"]
if judge and stats:
    models = {r["model"] for r in results["results"]}
    note = " It also answered, so it judges itself." if judge["name"] in models else ""
    rate = stats["position_inconsistency_rate"]
    st.caption(
        f"Judge {judge['name']}: {stats['parsed']}/{stats['judgments']} verdicts parsed"
        f" ({stats['failed']} failed, stored as failures). Position inconsistency: "
        + (
            f"{rate:.0%} of {stats['pairs_judged_both_orders']} pairs judged in both orders."
            if rate is not None
            else "no pairs yet."
        )
        + note
    )
elif not judge:
    st.caption("No judge in this run: only reference checks are available.")

if results["results"]:
    table = results_table(results["results"])
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV", table.to_csv(index=False), f"results-{run_id}.csv", key="results_csv"
    )

st.subheader("Question by question")
if items.empty:
    st.caption("No answered questions yet.")
    st.stop()
c1, c2 = st.columns(2)
model = c1.selectbox("Model", sorted(items.model_name.unique()), key="results_model")
subset = items[items.model_name == model]
labels = {r.item_key: f"{r.question_id} ({r.category})" for r in subset.itertuples()}
key = c2.selectbox("Question", list(labels), format_func=labels.get, key="results_item")
row = subset.set_index("item_key").loc[key]
question = {q.id: q for q in store.suite_questions(store.get_run(run_id)["config"]["suite"])}
q = question.get(row.question_id)
if q is not None:
    st.markdown(f"**Question:** {q.text}")
    if q.reference:
        st.caption(f"Reference ({q.reference_kind}): {q.reference}")
if row.status != "done":
    st.error(f"This item failed: {row.error}")
    st.stop()


def score(value) -> str:
    return "–" if value != value or value is None else f"{value:g}"


left, right = st.columns(2)
left.markdown(f"**Baseline** · score {score(row.baseline_score)}")
left.markdown(row.baseline)
right.markdown(
    f"**Refined** ({row.rounds_done} round(s), {row.stop_reason}) · "
    f"score {score(row.refined_score)}"
)
right.markdown(row.final)
outcome = {"second": "refined wins", "first": "baseline wins", "tie": "tie"}.get(
    row.refined_outcome, "not judged"
)
st.caption(f"Judge, both orders: {outcome}")
with st.expander("What refinement changed"):
    st.markdown(
        diff_markdown(row.baseline, row.final) if row.final != row.baseline else "_No change._"
    )
