"""AppTest of the Costs page's "Serving cost under load": a stored load test priced at the
chosen utilisation (and half the cost when the server is busy twice as long), and a load test
of an endpoint started on the page, run by a background worker."""

import time

import pandas as pd
import pytest

from core.app import context
from core.app.preferences import save_hardware
from core.engine.endpoint_config import endpoint_model_info, save_endpoints
from core.evaluation.loadtest import create_loadtest, plan_config
from core.types import EndpointConfig, HardwareProfile, RunStatus
from pages.components.text import escape
from tests.loadtest_support import stored_loadtest

RENTED = HardwareProfile("rented", cost_per_hour=0.36, watts=0.0)  # 262.80 a month


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """The pages run on the fake backend (endpoints always speak real HTTP)."""


def _frame(at, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_a_stored_load_test_is_priced_at_the_chosen_utilisation(open_page, store):
    save_hardware(RENTED)
    run_id = stored_loadtest(store, levels=(1, 2), requests=4)
    levels = store.loadtests.levels(run_id)
    at = open_page("pages/costs.py")
    assert not at.error, [e.value for e in at.error]
    assert list(_frame(at, "latency p50 (s)").concurrency) == [1, 2]
    half = _frame(at, "per 1,000 answers")
    for level, row in zip(levels, half.itertuples(), strict=True):
        # 0.36 an hour over the answers of the half hour the server is busy.
        busy_half = level.requests_per_s * 3600 * 0.5
        assert row[3] == pytest.approx(0.36 / busy_half * 1000)  # per 1,000 answers
        # GPT-4 (8k) by default: 30 per 1M prompt tokens, 60 per 1M output tokens (3 each).
        api_each = (level.mean_prompt_tokens * 30 + 3 * 60) / 1e6
        assert row[6] == pytest.approx(api_each * 1000)
        capacity = level.requests_per_s * 730 * 3600
        assert row[8] == pytest.approx(262.8 / api_each / capacity)  # break-even utilisation
    chart = at.get("plotly_chart")
    assert len(chart) == 1  # no benchmark yet: only the utilisation chart
    at.slider(key="costs_loadtest_utilisation").set_value(100).run()
    busy = _frame(at, "per 1,000 answers")
    assert list(busy["per 1,000 answers"]) == pytest.approx(list(half["per 1,000 answers"] / 2))


def test_a_load_test_started_on_the_page_runs_in_a_background_worker(
    open_page, store, make_openai_stub
):
    stub = make_openai_stub(delay_s=0.002)
    config = EndpointConfig("stub", stub.url, "stub-model", max_concurrency=2)
    save_endpoints(context.settings().endpoints_path, [config])
    at = open_page("pages/costs.py")
    assert at.selectbox(key="costs_loadtest_model").value == "stub"
    at.text_input(key="costs_loadtest_levels").set_value("1,2")
    at.number_input(key="costs_loadtest_requests").set_value(3)
    at.button(key="costs_loadtest_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("started in the background" in s.value for s in at.success)
    (test,) = store.loadtests.tests()
    deadline = time.monotonic() + 120  # a bound on the wait, not an assertion on time
    while time.monotonic() < deadline and RunStatus(store.runs.get(test.id).status).active:
        time.sleep(0.5)
    assert store.runs.get(test.id).status == RunStatus.COMPLETED
    assert stub.max_in_flight == 2 and len(stub.generation_requests()) == 1 + 3 + 3
    at.run()
    assert list(_frame(at, "latency p50 (s)").concurrency) == [1, 2]


def test_a_typo_in_the_levels_is_a_clear_error(open_page, make_openai_stub):
    stub = make_openai_stub()
    save_endpoints(context.settings().endpoints_path, [EndpointConfig("stub", stub.url, "m")])
    at = open_page("pages/costs.py")
    at.text_input(key="costs_loadtest_levels").set_value("1,2,four")
    at.button(key="costs_loadtest_start").click().run()
    assert not at.exception
    assert any("whole numbers separated by commas" in e.value for e in at.error)
    assert not stub.generation_requests()


def test_an_endpoint_on_another_machine_is_marked_where_a_load_test_is_picked(open_page, store):
    remote = EndpointConfig("far", "http://192.0.2.10:8000/v1", "big")  # never contacted
    save_endpoints(context.settings().endpoints_path, [remote])
    create_loadtest(store, plan_config(endpoint_model_info(remote), (1, 2), requests=3))
    at = open_page("pages/costs.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="costs_loadtest_model").options == ["far (data leaves this machine)"]
    (label,) = at.selectbox(key="costs_loadtest").options
    assert label.startswith("far (data leaves this machine) · concurrency 1,2 · 3 requests · ")


def test_an_error_is_shown_as_plain_text(open_page, make_openai_stub):
    stub = make_openai_stub()
    save_endpoints(context.settings().endpoints_path, [EndpointConfig("stub", stub.url, "m")])
    typed = "1,![x](http://192.0.2.1/x.png)"
    at = open_page("pages/costs.py")
    at.text_input(key="costs_loadtest_levels").set_value(typed)
    at.button(key="costs_loadtest_start").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert escape(typed) in error and "![x](http" not in error  # no image fetched
