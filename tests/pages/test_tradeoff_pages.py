"""Trade-offs and Costs pages, and `perfics rank`, on a run where quality and cost disagree:
one model answers well but slowly, the other badly but fast."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import run_cli


def _order(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value.model)


def test_tradeoffs_page_reranks_when_weights_move(open_page, contrasting_run):
    at = open_page("pages/tradeoffs.py")
    at.radio(key="trade_basis").set_value("latency").run()
    assert len(at.get("plotly_chart")) == 3
    at.slider(key="trade_wr").set_value(0.0).run()
    at.slider(key="trade_wc").set_value(0.0).run()
    assert _order(at) == ["slow-good", "fast-poor"]  # quality alone
    at.slider(key="trade_wp").set_value(0.0).run()
    at.slider(key="trade_wc").set_value(1.0).run()
    assert _order(at) == ["fast-poor", "slow-good"]  # cost alone
    table = at.dataframe[0].value
    assert table.on_pareto.all()  # better quality costs more: both are on the frontier


def test_tradeoffs_preset_sets_the_weights(open_page, contrasting_run):
    at = open_page("pages/tradeoffs.py")
    at.selectbox(key="trade_preset").set_value("quality-coding").run()
    assert at.slider(key="trade_wp").value == 2.0 and at.radio(key="trade_basis").value == "money"
    assert not at.exception and len(at.dataframe[0].value) == 2


def test_tradeoffs_page_without_data_says_what_to_do(open_page):
    at = open_page("pages/tradeoffs.py")
    assert "Nothing to compare yet" in at.info[0].value


def test_costs_page_shows_break_even(open_page, contrasting_run):
    at = open_page("pages/costs.py")
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Break-even (requests per month)"].replace(",", "")) > 0
    assert len(at.get("plotly_chart")) == 1
    at.number_input(key="costs_in_GPT-4 (8k context)").set_value(0.0).run()
    at.number_input(key="costs_out_GPT-4 (8k context)").set_value(0.0).run()
    assert {m.label: m.value for m in at.metric}["Break-even (requests per month)"] == "never"


def test_costs_page_rejects_a_bad_profile(open_page, contrasting_run):
    at = open_page("pages/costs.py")
    at.number_input(key="costs_years_This laptop (owned)").set_value(0.25).run()
    assert not at.error
    assert any("Fixed $500.00 per month" in c.value for c in at.caption)


def test_the_hardware_profile_and_its_currency_are_kept_for_the_next_session(
    open_page, contrasting_run
):
    at = open_page("pages/costs.py")
    at.selectbox(key="costs_currency").set_value("EUR").run()
    at.number_input(key="costs_watts_This laptop (owned)").set_value(100.0).run()
    assert any("Fixed €" in c.value for c in at.caption)
    later = open_page("pages/costs.py")  # a new session: a reload, another tab
    assert later.selectbox(key="costs_currency").value == "EUR"
    assert later.number_input(key="costs_watts_This laptop (owned)").value == 100.0
    assert "(EUR)" in later.number_input(key="costs_kwh_This laptop (owned)").label
    trade = open_page("pages/tradeoffs.py")
    assert any("EUR" in c.value for c in trade.caption)


def test_cli_rank(contrasting_run):
    out = json.loads(
        run_cli("rank", "--weights", "1,0,0", "--cost-basis", "latency", "--json").stdout
    )
    assert [m["model"] for m in out["models"]] == ["slow-good", "fast-poor"]
    first = out["models"][0]
    for key in (
        "performance",
        "gain",
        "cost",
        "perfics",
        "rank",
        "on_pareto",
        "seconds_per_answer",
        "memory_gb",
        "money_per_1000",
    ):
        assert key in first
    # The judge's expected rating: 70 % on the 9 it gave, 30 % spread over the other nine
    # ratings (mean 46/9), so 0.7 * 9 + 0.3 * 46 / 9 = 7.8333, on [0, 1]: (7.8333 - 1) / 9.
    assert first["performance"] == pytest.approx((0.7 * 9 + 0.3 * 46 / 9 - 1) / 9)
    assert first["performance_source"] == "judge (n=4)"
    cheap = json.loads(run_cli("rank", "--weights", "0,0,1", "--json").stdout)
    assert [m["model"] for m in cheap["models"]] == ["fast-poor", "slow-good"]
    bad = run_cli("rank", "--preset", "nope")
    assert bad.returncode == 1 and "unknown preset" in bad.stderr
