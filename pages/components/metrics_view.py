"""The Agreement & metrics page's metric tables and charts: each model against the verified or
gold labels, overall and per category, accuracy against model size, a confusion matrix."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import classify_charts, classify_results
from core.types.agreement import OVERALL_METRICS, ModelMetrics
from pages.components.agreement_view import Scope
from pages.components.estimates import Missing
from pages.components.text import escape

OVERALL_NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "micro_f1": "micro F1",
    "hamming_loss": "Hamming loss",
    "jaccard": "Jaccard index",
    "exact_match": "exact match",
}
CATEGORY_NAMES = {
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "f1": "F1",
}
CI = " [95 % CI]"


def metrics_tables(found: tuple[ModelMetrics, ...], scope: Scope) -> None:
    level = " (major labels)" if scope.major else ""
    st.subheader(f"Metrics against the {scope.against} labels{level}")
    missing = Missing()
    rows = [
        {"model": m.model, "texts (n)": m.n, "unanswered": m.unanswered}
        | {
            OVERALL_NAMES[k] + CI: missing.cell(m.overall[k], f"{m.model}, {OVERALL_NAMES[k]}")
            for k in OVERALL_METRICS
        }
        for m in found
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    missing.caption()
    st.caption(
        "n counts texts with both a reference label and the model's answer; unanswered counts "
        "reference texts the model has no answer for (left out of n). Percentile-bootstrap "
        "95 % intervals over texts. Hamming loss: lower is better."
    )
    with st.expander("Metrics per category"):
        missing = Missing()
        rows = [
            {
                "model": m.model,
                "label": scope.names.get(c.label, c.label),
                "support": c.support,
                "predicted": c.predicted,
                "texts (n)": m.n,
            }
            | {
                CATEGORY_NAMES[k] + CI: missing.cell(
                    getattr(c, k), f"{scope.names.get(c.label, c.label)} {CATEGORY_NAMES[k]}"
                )
                for k in CATEGORY_NAMES
            }
            for m in found
            for c in m.per_category
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        missing.caption(limit=3)


@st.fragment  # picking a metric or an axis redraws the charts only, not every table
def metric_charts(found: tuple[ModelMetrics, ...], scope: Scope) -> None:
    st.subheader("By category")
    metric = st.selectbox(
        "Metric",
        list(classify_charts.CATEGORY_METRICS),
        format_func=classify_charts.CATEGORY_METRICS.get,
        key="agree_chart_metric",
    )
    st.plotly_chart(
        classify_charts.category_metric_bars(found, metric, scope.names),
        key="agree_bars",
        config={"toImageButtonOptions": {"format": "png", "filename": f"by-category-{metric}"}},
    )
    st.subheader("Accuracy against model size")
    sizes = classify_results.model_sizes(scope.dataset, scope.codebook.name, list(scope.run_ids))
    points = classify_charts.size_points(found, sizes)
    axes = ["file_size_mb"]
    if len(points) and points.parameters_m.notna().all():
        axes.append("parameters_m")
    left, right = st.columns([3, 2])
    x = right.radio(
        "Size",
        axes,
        format_func=classify_charts.SIZE_AXES.get,
        key="agree_size_axis",
        help="Parameters come from the size label the model file declares (e.g. 135M).",
    )
    left.plotly_chart(
        classify_charts.metric_by_size(points, x),
        key="agree_sizes",
        config={"toImageButtonOptions": {"format": "png", "filename": "accuracy-by-size"}},
    )
    right.dataframe(
        points[["coder", "file_size_mb", "parameters_m", "n"]],
        hide_index=True,
        column_config={
            "file_size_mb": st.column_config.NumberColumn("file size (MB)", format="%.1f"),
            "parameters_m": st.column_config.NumberColumn("parameters (M)", format="%.0f"),
            "n": st.column_config.NumberColumn("texts (n)"),
        },
    )
    left_out = points[points[x].isna() | points.value.isna()].coder
    if len(left_out):
        right.caption(escape(f"Not drawn (no size or no accuracy): {', '.join(left_out)}."))


@st.fragment
def confusion_view(found: tuple[ModelMetrics, ...], scope: Scope) -> None:
    st.subheader("Confusion matrix")
    single = [m for m in found if m.confusion is not None]
    if not single:
        st.caption("Confusion matrices are drawn for single-label coding only.")
        return
    by_name = {m.model: m for m in single}
    chosen = st.selectbox("Model coder", list(by_name), key="agree_confusion")
    m = by_name[chosen]
    st.plotly_chart(
        classify_charts.confusion_heatmap(m, scope.names, scope.against),
        key="agree_confusion_chart",
        config={"toImageButtonOptions": {"format": "png", "filename": "confusion"}},
    )
    st.caption(f"{m.n} texts with an answer, {m.unanswered} unanswered (the 'no answer' column).")
