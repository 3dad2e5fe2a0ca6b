"""The Quantization page's ladder display: progress and controls for one ladder run, then its
table and chart once rungs are measured."""

from __future__ import annotations

import streamlit as st

from core.app import ladder
from core.app.charts import ladder_chart
from core.types import RunStatus
from pages.components.run_controls import run_controls
from pages.components.run_progress import run_progress
from pages.components.text import escape

NUMBER_FORMATS = {
    "File (MiB)": "%.1f",
    "Memory (MiB)": "%.0f",
    "Prompt (tokens/s)": "%.0f",
    "Generation (tokens/s)": "%.1f",
    "Perplexity": "%.3f",
    "Perplexity ±": "%.3f",
    "PPL ratio": "%.4f",
    "Mean KLD (nats)": "%.5f",
    "KLD ±": "%.5f",
    "KLD 99th pct": "%.4f",
    "Same top token (%)": "%.2f",
    "RMS Δp (%)": "%.2f",
    "Quality": "%.3f",
    "Quality low": "%.3f",
    "Quality high": "%.3f",
}


def ladder_view(run_id: str, status: RunStatus) -> None:
    cfg = ladder.config(run_id)
    run_progress(run_id)
    run_controls(
        run_id,
        status,
        "quant",
        delete_label="Delete ladder",
        deleted_notice="Deleted the ladder's measurements; the quantized files stay in the folder.",
    )
    rows = ladder.rungs(run_id)
    if not rows:
        st.caption("No model measured yet.")
        return
    st.markdown(
        f"**{escape(cfg.source)}** on {escape(cfg.text_label)}: {rows[0].positions:,} scored "
        f"positions per model ({cfg.n_ctx}-token chunks). KLD, same-top and Δp are against the "
        "source; generation speed is over "
        f"{rows[0].gen_tokens} greedy tokens."
    )
    if cfg.quality_suite and any(r.quality_n for r in rows):
        st.caption(
            f"Quality: likelihood on suite {escape(cfg.quality_suite)} ({rows[0].quality_n} "
            "scorable questions): acc_norm per multiple-choice question and 2^-bits per byte "
            "per reference answer, with a 95 % interval. No judge is involved."
        )
    if any(r.requantized for r in rows):
        st.warning(
            "The source is itself quantized, so every copy measures loss relative to it, not "
            "to the original weights; a copy with more bits cannot recover what it lost."
        )
    df = ladder.table(rows)
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(name, format=fmt)
            for name, fmt in NUMBER_FORMATS.items()
        },
    )
    st.download_button(
        "Download the table (CSV)",
        df.to_csv(index=False).encode("utf-8"),
        file_name=f"ladder-{run_id[:8]}.csv",
        mime="text/csv",
        key="quant_download",
    )
    st.plotly_chart(ladder_chart(df), width="stretch", key="quant_chart")
    st.caption(
        "Tensor types actually written are in the table: K-quants need rows that are a "
        "multiple of 256, so on models with other widths many tensors fall back to older types."
    )
