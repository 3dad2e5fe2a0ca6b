"""Agreement & metrics: how often reviewers accepted each model's proposals, how far reviewers
and models agree, and each model's metrics against verified or gold labels (issue 12)."""

import streamlit as st

from core.app import classify, classify_results
from core.errors import InvalidRequest, PerficsError
from pages.components.agreement_exports import costs_view, downloads
from pages.components.agreement_view import acceptance_table, agreement_scope, kappa_tables
from pages.components.coding_scope import scope_or_stop
from pages.components.metrics_view import confusion_view, metric_charts, metrics_tables
from pages.components.text import escape

st.title("Agreement & metrics")
st.caption(
    "The hybrid workflow of “Rethinking Scale”: models propose labels, reviewers accept or "
    "reject them, and the verified set measures every model. Every figure carries its 95 % "
    "interval and n; a value the data leave undefined reads n/a, with the reason below its "
    "table."
)
scope = scope_or_stop(agreement_scope)

book = scope.codebook.name
runs = list(scope.run_ids)
try:
    progress = classify.review_stats(scope.dataset, book, scope.rule)
    with st.spinner("Computing agreement (1,000 bootstrap resamples)…"):
        report = classify_results.agreement(scope.dataset, book, scope.rule, runs)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

m = st.columns(4)
m[0].metric("Coded texts", progress.coded_texts)
m[1].metric("Reviewed", progress.reviewed_texts)
m[2].metric("Verified", progress.verified_texts, help="Under the rule chosen above")
m[3].metric("Reviewers", len(progress.decisions_by_reviewer))

acceptance_table(report)
kappa_tables(report, scope.names)

found = None
try:
    found = classify_results.metrics(
        scope.dataset, book, scope.rule, runs, scope.against, scope.major
    )
except InvalidRequest as exc:
    st.subheader(f"Metrics against the {scope.against} labels")
    hint = (
        " Or choose the gold labels as reference above."
        if scope.has_gold and scope.against == classify_results.VERIFIED
        else ""
    )
    st.info(escape(str(exc)) + hint)
except PerficsError as exc:
    st.error(str(exc))

if found:
    metrics_tables(found, scope)
    metric_charts(found, scope)
    confusion_view(found, scope)

costs_view(scope)
downloads(scope, report, found)
