"""The Agreement & metrics page's cost table (per 1,000 texts, on the saved hardware profile)
and its downloads, built in memory: the verified set, fine-tuning conversations and tables."""

from __future__ import annotations

import re

import streamlit as st

from core.app import classify_results, preferences
from core.app.classify_results import AgreementReport
from core.types.agreement import ModelMetrics
from pages.components.agreement_view import Scope
from pages.components.text import escape


def costs_view(scope: Scope) -> None:
    st.subheader("Cost per 1,000 texts")
    table = classify_results.costs(scope.dataset, scope.codebook.name, list(scope.run_ids))
    if table.empty:
        st.caption("No coder has finished a text yet.")
        return
    hw = preferences.hardware()
    money = f"cost_per_1000_texts_{hw.currency}"
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "texts": st.column_config.NumberColumn("texts (n)"),
            "seconds_per_text": st.column_config.NumberColumn("seconds per text", format="%.3f"),
            "texts_per_second": st.column_config.NumberColumn("texts per second", format="%.2f"),
            "prompt_tokens": st.column_config.NumberColumn("prompt tokens", format="%.0f"),
            money: st.column_config.NumberColumn(f"per 1,000 texts ({hw.currency})", format="%.4f"),
            "energy_kwh_per_1000_texts": st.column_config.NumberColumn(
                "kWh per 1,000 texts", format="%.4f"
            ),
        },
    )
    st.caption(
        escape(
            f"Measured seconds per coded text (mean over n texts) on the hardware profile "
            f"'{hw.name}', money in {hw.currency}, machine kept busy; edit the profile on the "
            "Costs page."
        )
    )


def _file(scope: Scope, what: str, ext: str) -> str:
    stem = re.sub(r"[^\w.-]+", "_", f"{scope.dataset}-{scope.codebook.name}-{what}")
    return f"{stem}.{ext}"


def downloads(
    scope: Scope, report: AgreementReport, found: tuple[ModelMetrics, ...] | None
) -> None:
    st.subheader("Downloads")
    book = scope.codebook.name
    verified = classify_results.verified_table(scope.dataset, book, scope.rule)
    records = (
        classify_results.finetune_records(scope.dataset, book, scope.rule) if len(verified) else []
    )
    agreement = classify_results.agreement_frame(report)
    metrics = classify_results.metrics_frame(found) if found else None
    buttons = [
        ("Verified set (CSV)", verified, "csv", "verified", "text/csv"),
        ("Verified set (Parquet)", verified, "parquet", "verified", "application/octet-stream"),
        ("Fine-tuning (JSONL)", records, "jsonl", "finetune", "application/jsonl"),
        ("Agreement (CSV)", agreement, "csv", "agreement", "text/csv"),
        ("Metrics (CSV)", metrics, "csv", "metrics", "text/csv"),
    ]
    columns = st.columns(len(buttons))
    for column, (label, table, fmt, what, mime) in zip(columns, buttons, strict=True):
        empty = table is None or len(table) == 0
        column.download_button(
            label,
            b"" if empty else classify_results.table_bytes(table, fmt),
            _file(scope, what, fmt),
            mime=mime,
            disabled=empty,
            key=f"agree_dl_{what}_{fmt}",
        )
    st.caption(
        f"{len(verified)} verified texts under the rule chosen above; {len(records)} "
        "fine-tuning conversations (the zero-shot coding prompt, then the verified answer). "
        "Tables as `perfics classify export` writes them; the metrics follow the reference "
        "and roll-up chosen above."
    )
