"""The Costs page's "Serving cost under load": start a load test of an endpoint in the
background, pick a stored one, and price its levels at a utilisation against the page's API;
the chart shows how idle time raises the cost of each answer."""

from __future__ import annotations

import streamlit as st

from core.app import loadtest
from core.app.formatting import model_label, money
from core.errors import PerficsError
from core.types import ApiPrice, HardwareProfile, LoadTest, RunStatus
from pages.components.model_table import label_format
from pages.components.resources import usable_models
from pages.components.run_controls import run_controls
from pages.components.run_progress import run_progress
from pages.components.text import escape

KEY = "costs_loadtest"


def _start() -> None:
    """Widgets, not a form: Enter in a field never starts a test; the button does."""
    served = [m for m in usable_models() if m.is_endpoint]
    endpoints = [m.name for m in served]
    if not endpoints:
        st.caption(
            "No endpoint declared: add one on the Models page to load-test it here, or run "
            "`perfics loadtest NAME` on any model."
        )
        return
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    model = c1.selectbox(
        "Endpoint", endpoints, format_func=label_format(served), key=f"{KEY}_model"
    )
    levels_text = c2.text_input("Concurrency levels", "1,2,4,8", key=f"{KEY}_levels")
    requests = c3.number_input("Requests per level", 1, 10_000, 16, key=f"{KEY}_requests")
    max_tokens = c4.number_input("Max tokens", 1, 4096, 128, key=f"{KEY}_max_tokens")
    if st.button("Start load test", key=f"{KEY}_start", type="primary"):
        try:
            run_id = loadtest.start(model, levels_text, int(requests), int(max_tokens))
        except PerficsError as exc:
            st.error(escape(str(exc)))
            return
        st.session_state[KEY] = run_id
        st.session_state[f"{KEY}_notice"] = f"Load test {run_id[:8]} started in the background."
        st.rerun()


def _pick(tests: list[LoadTest]) -> LoadTest:
    labels = {
        t.id: f"{model_label(t.model, t.config.leaves_machine)} · {t.plan} · "
        f"{t.created_at:%Y-%m-%d %H:%M} · {t.status}"
        for t in tests
    }
    if st.session_state.get(KEY) not in labels:
        st.session_state.pop(KEY, None)
    picked = st.selectbox("Load test", list(labels), format_func=labels.get, key=KEY)
    return next(t for t in tests if t.id == picked)


def _price(test: LoadTest, hw: HardwareProfile, api: ApiPrice) -> None:
    currency = hw.currency
    percent = st.slider(
        "Utilisation (share of the time the server is busy)",
        10,
        100,
        50,
        5,
        format="%d %%",
        key=f"{KEY}_utilisation",
        help="A server is paid for every hour; idle hours are shared by the answers of the busy "
        "ones, so the cost of an answer scales with 1 / utilisation.",
    )
    costs = loadtest.costs(test, hw, api, percent / 100)
    frame = loadtest.cost_frame(costs)
    frame["break-even answers/month"] = frame["break-even answers/month"].round()
    money_columns = ("per 1,000 answers", "machine", "energy", "API per 1,000")
    st.dataframe(
        frame,
        hide_index=True,
        key=f"{KEY}_costs",
        column_config={
            c: st.column_config.NumberColumn(f"{c} ({currency})", format="%.4f")
            for c in money_columns
        }
        | {
            "answers/s": st.column_config.NumberColumn(format="%.2f"),
            "break-even answers/month": st.column_config.NumberColumn(format="localized"),
            "break-even busy": st.column_config.NumberColumn(
                format="percent", help="The utilisation above which the level beats the API"
            ),
        },
    )
    best = min(costs, key=lambda c: c.per_1000)
    verdict = "cheaper than" if best.cheaper_than_api else "dearer than"
    st.caption(
        f"At {percent} % busy, the best level (concurrency {best.concurrency}) costs "
        f"{money(best.per_1000, currency, 4)} per 1,000 answers: {verdict} {escape(api.name)} "
        f"at {money(best.api_per_1000, currency, 4)} for answers of the measured length "
        f"({best.prompt_tokens:.0f} prompt and {best.output_tokens:.0f} output tokens). Below "
        "its break-even share of busy time a level costs more than the API; empty: never. The "
        "break-even volume hardly depends on the level (the machine's monthly cost over what "
        "each answer saves); a faster level answers it in fewer busy hours."
    )
    if any(c.prompt_tokens == 0 for c in costs):
        st.caption("The server did not report prompt tokens: the API's price leaves them out.")
    curve = loadtest.utilisation_curve(test, hw, api)
    api_line = sum(c.api_per_1000 for c in costs) / len(costs)
    st.plotly_chart(loadtest.utilisation_chart(curve, api_line, currency), key=f"{KEY}_chart")


def serving_cost(hw: HardwareProfile, api: ApiPrice) -> None:
    st.subheader("Serving cost under load")
    st.caption(
        "An endpoint measured at several concurrency levels (`perfics loadtest`, or below), "
        "priced with the hardware profile above as the machine that serves it."
    )
    if notice := st.session_state.pop(f"{KEY}_notice", None):
        st.success(notice)
    _start()
    try:
        tests = loadtest.tests()
    except PerficsError as exc:
        st.error(escape(str(exc)))
        return
    if not tests:
        st.info("No load test yet.")
        return
    test = _pick(tests)
    run_progress(test.id)
    run_controls(test.id, RunStatus(test.status), KEY, delete_label="Delete load test")
    if not test.levels:
        st.info("No level measured yet.")
        return
    seconds = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(
        loadtest.level_frame(test),
        hide_index=True,
        key=f"{KEY}_levels_table",
        column_config={c: seconds for c in ("latency p50 (s)", "p90 (s)", "p99 (s)")}
        | {
            "TTFT p50 (s)": seconds,
            "req/s": st.column_config.NumberColumn(format="%.2f"),
            "output tok/s": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.caption(
        f"{test.config.requests} chat requests per level (the built-in questions, max "
        f"{test.config.max_tokens} tokens, greedy); latency from sending to the last token, "
        "over the requests that succeeded; one warm-up request first, not counted."
    )
    _price(test, hw, api)
