"""The Learn page's curves: one curve's progress and time left (polled while it works), its
Resume / Stop / Delete, its chart and table (CSV), and the comparison of its methods at one n
with cost per 1,000 texts, training cost and the PeRFICS ranking (CSV)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.app import learn_curve
from core.app.classify_charts import OVERALL_TITLES
from core.app.classify_results import table_bytes
from core.app.curve_charts import METHOD_NAMES, curve_figure
from core.app.formatting import duration
from core.app.options import PERFICS_PRESETS as PRESETS
from core.errors import PerficsError
from core.types import RunStatus
from core.types.curves import CURVE_HEADLINE_METRICS, CurveProgress
from pages.components.run_controls import pick_run, run_controls
from pages.components.text import escape

POLL_S = 2.0
METRICS = (*CURVE_HEADLINE_METRICS, "micro_f1", "jaccard", "exact_match")


def progress_line(p: CurveProgress) -> str:
    text = f"**{p.status}** · {p.done} of {p.total} points"
    if p.status in (RunStatus.RUNNING, RunStatus.QUEUED):
        text += f" · about {duration(p.eta_s)} left" if p.eta_s else " · time left not known yet"
        if p.unmeasured:
            text += f" (not yet timed: {escape(', '.join(p.unmeasured))})"
    return text


def _live(run_id: str) -> None:
    try:
        p = learn_curve.progress(run_id)
    except PerficsError as exc:
        st.error(str(exc))
        return
    st.markdown(progress_line(p))
    st.progress(p.fraction)
    if p.status not in (RunStatus.RUNNING, RunStatus.QUEUED):
        st.rerun()  # it has ended: redraw the page with everything it measured


def _describe(r) -> str:
    return f"{r.created_at:%Y-%m-%d %H:%M} · {r.dataset} · {r.codebook} · {r.methods} · {r.models}"


def pick_curve() -> str | None:
    """The curve picker with its progress and controls; the picked curve's id."""
    if notice := st.session_state.pop("learn_ctl_notice", None):
        st.info(notice)
    listing = learn_curve.curves()
    if listing.empty:
        st.caption("No learning curve yet: start one above.")
        return None
    if st.session_state.get("learn_run") in set(listing.id):
        st.session_state["learn_pick"] = st.session_state.pop("learn_run")
    run_id = pick_run(listing, _describe, "learn_pick")
    status = RunStatus(listing.set_index("id").status[run_id])
    if status.active:
        st.fragment(run_every=POLL_S)(_live)(run_id)
    else:
        st.markdown(progress_line(learn_curve.progress(run_id)))
    run_controls(
        run_id,
        status,
        "learn_ctl",
        delete_label="Delete curve",
        on_deleted=lambda: st.session_state.pop("learn_pick", None),
    )
    return run_id


def curve_chart_and_table(run_id: str) -> None:
    config = learn_curve.curve_config(run_id)
    metric = st.selectbox(
        "Metric", METRICS, format_func=lambda m: OVERALL_TITLES.get(m, m), key="learn_metric"
    )
    table = learn_curve.table(run_id, (metric,))
    if table.empty:
        st.caption("No point measured yet.")
        return
    st.plotly_chart(curve_figure(table, metric, config.shots), key="learn_chart")
    st.caption(
        f"Mean over repeats on the same {len(config.held_out_ids)} held-out texts, with a 95 % "
        "interval: Student's t across the repeats' values when there are two or more, else the "
        "point's bootstrap interval over the held-out texts. Band: the interval."
    )
    shown = table.assign(method=table.method.map(lambda m: METHOD_NAMES.get(m, m)))
    st.dataframe(shown, hide_index=True, width="stretch", key="learn_table")
    st.download_button(
        "Download the table (CSV)",
        table_bytes(learn_curve.table(run_id, METRICS), "csv"),
        file_name=f"curve-{run_id[:8]}.csv",
        mime="text/csv",
        key="learn_table_csv",
    )


def compare_view(run_id: str) -> None:
    st.subheader("Compare methods")
    config = learn_curve.curve_config(run_id)
    c1, c2, c3 = st.columns(3)
    n = c1.selectbox("At n", config.sizes[::-1], key="learn_compare_n")
    metric = c2.selectbox(
        "Quality metric", METRICS, index=1, format_func=OVERALL_TITLES.get, key="learn_cmp_metric"
    )
    presets = list(PRESETS)
    preset = c3.selectbox(
        "PeRFICS weights", presets, index=presets.index("quality-coding"), key="learn_preset"
    )
    report = learn_curve.compare(run_id, int(n))
    if not report.rows:
        st.caption("Nothing measured at this n yet.")
        return
    table = learn_curve.compare_table(report)
    cur = report.currency
    columns = [
        "model", "method", "n_train", "repeats", metric, f"{metric}_low", f"{metric}_high",
        f"{metric}_n", "seconds_per_text", "money_per_1000", "energy_kwh_per_1000",
        "train_seconds", "train_cpu_hours", "train_energy_kwh", "train_money",
    ]  # fmt: skip
    st.dataframe(
        table[columns],
        hide_index=True,
        width="stretch",
        column_config={
            "money_per_1000": st.column_config.NumberColumn(f"{cur} per 1,000 texts"),
            "train_money": st.column_config.NumberColumn(f"Training ({cur})"),
            "train_cpu_hours": st.column_config.NumberColumn("Training CPU-hours"),
        },
        key="learn_compare",
    )
    st.caption(
        f"Costs on the hardware profile “{escape(report.hardware)}” (Costs page): coding "
        "seconds per text × 1,000 × the busy cost per second; training CPU-hours = training "
        f"seconds × {report.threads} threads / 3,600. The base row is the model zero-shot."
    )
    st.download_button(
        "Download the comparison (CSV)",
        table_bytes(table, "csv"),
        file_name=f"compare-{run_id[:8]}-n{n}.csv",
        mime="text/csv",
        key="learn_compare_csv",
    )
    weights = PRESETS[preset]
    if weights.basis == "memory":  # a curve measures no memory: price by money instead
        weights = replace(weights, basis="money")
    ranked = learn_curve.ranked(report, weights, metric)
    st.markdown(f"**PeRFICS** ({escape(preset)}, cost: {weights.basis}; G = gain over zero-shot)")
    st.dataframe(
        ranked[["rank", "model", "perfics", "performance", "gain", "cost", "on_pareto"]],
        hide_index=True,
        width="stretch",
        key="learn_ranked",
    )
