"""The Classify page's coding runs: progress and time left of the active ones (polled by
run_progress), Resume / Stop / Delete for one (run_controls, as on Benchmarks), the list, and
the measured seconds per text and cost per 1,000 texts of every coder."""

from __future__ import annotations

import streamlit as st

from core.app import classify, runs
from core.app.formatting import data_left_text
from core.app.preferences import hardware
from core.errors import PerficsError
from core.types import RunKind, RunStatus
from pages.components.run_controls import ACTIVE, pick_run, run_controls, with_units_and_time_left
from pages.components.run_progress import run_progress
from pages.components.text import escape

TABLE_COLUMNS = [
    "status",
    "progress",
    "units",
    "time left",
    "dataset",
    "codebook",
    "models",
    "shots",
    "multi_label",
    "failed_units",
    "created_at",
    "id",
]


def _label(r) -> str:
    left = data_left_text(r.data_left_via)
    return (
        f"{r.created_at:%Y-%m-%d %H:%M} · {r.dataset} · {r.codebook} · {r.shots}-shot · {r.models}"
    ) + (f" · {left}" if left else "")


def _costs() -> None:
    table, currency = classify.coding_costs()
    if table.empty:
        return
    st.markdown("**Measured speed and cost per coder**")
    st.caption(
        f"Cost per 1,000 texts on your hardware profile “{escape(hardware().name)}” (edit it "
        "on the Costs page): seconds per text × 1,000 × what a second of the machine costs "
        f"when kept busy (rent, purchase over its lifetime, electricity), in {currency}; the "
        "model ranking on Trade-offs uses the same. n = texts coded."
    )
    st.dataframe(
        table[
            [
                "model",
                "shots",
                "dataset",
                "codebook",
                "texts",
                "failed",
                "seconds_per_text",
                "seconds_sd",
                "money_per_1000",
                "energy_kwh_per_1000",
                "run_id",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "model": "Model",
            "shots": "Shots",
            "dataset": "Dataset",
            "codebook": "Codebook",
            "texts": st.column_config.NumberColumn("Texts (n)"),
            "failed": "Failed",
            "seconds_per_text": st.column_config.NumberColumn("Seconds per text", format="%.3f"),
            "seconds_sd": st.column_config.NumberColumn("SD (s)", format="%.3f"),
            "money_per_1000": st.column_config.NumberColumn(
                f"{currency} per 1,000 texts", format="%.4f"
            ),
            "energy_kwh_per_1000": st.column_config.NumberColumn(
                "kWh per 1,000 texts", format="%.4f"
            ),
            "run_id": "Run",
        },
    )


def coding_runs() -> None:
    st.subheader("Coding runs")
    if notice := st.session_state.pop("cls_ctl_notice", None):
        st.info(notice)
    try:
        listing = runs.overview(kinds=(RunKind.CODING,))
        details = classify.runs()
    except PerficsError as exc:
        st.error(str(exc))
        return
    if listing.empty:
        st.caption("No coding runs yet: start one above.")
        return
    table = listing.merge(
        details[["id", "dataset", "codebook", "shots", "multi_label", "failed_units"]], on="id"
    )
    by_id = table.set_index("id", drop=False)
    for r in table.itertuples():
        if r.status in ACTIVE:  # progress first, each polled until it ends
            st.markdown(f"Run `{r.id[:12]}` · {escape(_label(r))}")
            run_progress(r.id)
    pick = pick_run(table, _label, "cls_manage")
    row = by_id.loc[pick]
    if row.status not in ACTIVE:
        run_progress(pick)
    run_controls(
        pick,
        RunStatus(row.status),
        "cls_ctl",
        on_deleted=lambda: st.session_state.pop("cls_manage", None),
    )
    st.dataframe(
        with_units_and_time_left(table)[TABLE_COLUMNS],
        hide_index=True,
        width="stretch",
        column_config={
            "status": "Status",
            "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1),
            "units": "Units done",
            "time left": "Time left",
            "dataset": "Dataset",
            "codebook": "Codebook",
            "models": "Models",
            "shots": "Shots",
            "multi_label": st.column_config.CheckboxColumn("Multi-label"),
            "failed_units": "Failed",
            "created_at": st.column_config.DatetimeColumn("Started (UTC)"),
            "id": "Run id",
        },
    )
    _costs()
