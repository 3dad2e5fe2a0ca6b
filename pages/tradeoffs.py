"""Trade-offs: quality against measured cost, the Pareto frontier, and the PeRFICS ranking."""

import streamlit as st

from core.app.charts import category_improvement, improvement_by_rounds, tradeoff_scatter
from core.app.options import PERFICS_PRESETS, QUALITY_SOURCES
from core.app.ranking import rank_models
from core.app.runs import overview
from core.errors import PerficsError
from core.types import COST_BASES, Weights
from pages.components import resources
from pages.components.hardware import hardware
from pages.components.quick_start import quick_start
from pages.components.ranking_table import RANKING_COLUMNS, ranking_column_config
from pages.components.results_view import run_label

st.title("Trade-offs")
st.caption(
    "Which model fits the task? Quality after refinement, the gain refinement brings, "
    "and what it costs to run, all from your own measurements."
)
runs = overview()
labels = {None: "All runs"} | {r.id: run_label(r) for r in runs.itertuples()}
run_id = st.selectbox("Data", list(labels), format_func=labels.get, key="trade_run")
source = st.radio(
    "Quality from",
    QUALITY_SOURCES,
    index=int(dict(zip(runs.id, runs.kind, strict=True)).get(run_id) == "likelihood"),
    format_func={"answers": "answers (references, then judge)", "likelihood": "likelihood"}.get,
    horizontal=True,
    key="trade_quality",
    help="Likelihood: multiple-choice accuracy and reference-answer likelihood from likelihood "
    "runs, no judge (docs/likelihood.md). Costs always come from measured answers.",
)


def apply_preset() -> None:
    w = PERFICS_PRESETS[st.session_state["trade_preset"]]
    st.session_state.update(
        trade_wp=w.performance, trade_wr=w.refinement, trade_wc=w.cost, trade_basis=w.basis
    )


if "trade_wp" not in st.session_state:
    st.session_state["trade_preset"] = "laptop-assistant"
    apply_preset()
c0, c1, c2, c3, c4 = st.columns([1.4, 1, 1, 1, 1])
c0.selectbox("Preset (editable)", list(PERFICS_PRESETS), key="trade_preset", on_change=apply_preset)
wp = c1.slider("Performance weight", 0.0, 3.0, step=0.05, key="trade_wp")
wr = c2.slider("Refinement weight", 0.0, 3.0, step=0.05, key="trade_wr")
wc = c3.slider("Cost weight", 0.0, 3.0, step=0.05, key="trade_wc")
basis = c4.radio("Cost basis", COST_BASES, key="trade_basis")
accept = st.checkbox(
    "Accept an unreliable judge",
    key="trade_accept_judge",
    help="Rank on a judge the reliability rule (docs/judging.md) calls unusable. Off: such a "
    "judge's ratings are left out and quality comes from reference checks.",
)

try:
    hw = hardware()
    measured = resources.cached_measurements(run_id)
    ranking = rank_models(measured, hw, Weights(wp, wr, wc, basis), accept, source)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()
for judge_name, verdict in ranking.judges.items():
    st.caption(f"Judge {judge_name}: **{verdict.label()}**")
for note in ranking.quality.notes:
    st.warning(note)
ranked = ranking.ranked
if ranked.empty and not ranking.table.empty:
    st.info(f"No {basis} measurements for these models yet; pick another cost basis.")
    st.stop()
if ranked.empty:
    st.info(
        "Nothing to compare yet. Run a benchmark with a judge (Benchmarks page or "
        "`perfics run`), then come back."
    )
    quick_start("trade")
    st.stop()

st.plotly_chart(
    tradeoff_scatter(ranked, ranking.points, basis, hw.currency),
    key="trade_scatter",
    config={"toImageButtonOptions": {"format": "png", "filename": "tradeoffs"}},
)
st.subheader("Ranking")
st.dataframe(
    ranked[RANKING_COLUMNS],
    hide_index=True,
    width="stretch",
    column_config=ranking_column_config(basis, hw.currency),
)
st.download_button(
    "Download ranking (CSV)", ranked.to_csv(index=False), "perfics-ranking.csv", key="trade_csv"
)
st.caption(
    f"Money is in {hw.currency}, from the hardware profile '{hw.name}' (edit both on the Costs "
    "page). "
    "The formula is in docs/perfics.md."
)

left, right = st.columns(2)
with left:
    st.subheader("Improvement by category")
    st.plotly_chart(category_improvement(ranking.quality.per_category), key="trade_categories")
with right:
    st.subheader("Improvement by rounds")
    st.caption("Across all benchmark runs, by each run's rounds setting.")
    st.plotly_chart(improvement_by_rounds(ranking.quality.by_rounds), key="trade_rounds")
