"""Serving cost under load (core/ranking/cost.py), each formula against figures worked by hand:
cost per 1,000 answers at a utilisation, its energy part, the break-even volume against an API
and the utilisation it means."""

import pytest

from core.errors import InvalidRequest
from core.ranking.cost import serving_break_even, serving_cost, serving_per_1000
from core.types import ApiPrice, HardwareProfile, LoadLevel

RENTED = HardwareProfile("rented", cost_per_hour=0.36, watts=0.0)  # 262.80 a month
OWNED_POWER_ONLY = HardwareProfile("paid off", watts=100.0, electricity_per_kwh=0.30)
BOUGHT = HardwareProfile("bought", purchase_price=1460.0, lifetime_years=1.0, watts=0.0)
API = ApiPrice("api", 1.5, 2.0, "2023-06")  # 100 in + 100 out = 0.00015 + 0.0002 = 0.00035


def level(rps_times_10: int = 20, seconds: float = 10.0) -> LoadLevel:
    """`rps_times_10` answers in 10 s, 100 prompt and 100 output tokens each."""
    n = rps_times_10
    return LoadLevel(
        concurrency=2,
        requests=n,
        succeeded=n,
        failed=0,
        seconds=seconds,
        output_tokens=100 * n,
        latency_p50_s=1.0,
        latency_p90_s=1.0,
        latency_p99_s=1.0,
        ttft_p50_s=0.1,
        ttft_p90_s=0.1,
        prompt_tokens=100 * n,
    )


def test_rent_is_shared_by_the_answers_of_the_busy_hours():
    # 0.36 an hour; 2 answers/s busy half the time = 3,600 answers an hour: 0.0001 each.
    machine, energy = serving_per_1000(RENTED, 2.0, 0.5)
    assert machine == pytest.approx(0.10)
    assert energy == 0.0
    assert serving_per_1000(RENTED, 2.0, 1.0)[0] == pytest.approx(0.05)
    # Idle 90 % of the time: ten times the cost of a busy machine.
    assert serving_per_1000(RENTED, 2.0, 0.1)[0] == pytest.approx(0.50)


def test_a_purchase_is_spread_over_its_lifetime_hours():
    # 1,460 over one year: 121.67 a month, 121.67 / 730 = 0.16667 an hour; 3,600 answers an hour.
    machine, _ = serving_per_1000(BOUGHT, 1.0, 1.0)
    assert machine == pytest.approx(1460 / 12 / 730 / 3600 * 1000)
    assert machine == pytest.approx(0.046296, abs=1e-6)


def test_energy_is_paid_for_busy_seconds_only_whatever_the_utilisation():
    # 100 W at 0.30 a kWh: 0.03 an hour; an answer takes half a busy second: 0.03 / 7,200.
    for utilisation in (0.1, 0.5, 1.0):
        machine, energy = serving_per_1000(OWNED_POWER_ONLY, 2.0, utilisation)
        assert machine == 0.0
        assert energy == pytest.approx(0.03 / 7200 * 1000)  # 0.0041667


def test_break_even_volume_and_utilisation_against_an_api():
    cost = serving_cost(RENTED, level(), API, 0.5)
    assert cost.requests_per_s == pytest.approx(2.0)
    assert (cost.prompt_tokens, cost.output_tokens) == (100.0, 100.0)
    assert cost.api_per_1000 == pytest.approx(0.35)
    # 262.80 a month fixed over 0.00035 saved per answer.
    assert cost.break_even_per_month == pytest.approx(750_857.142857)
    assert cost.capacity_per_month == pytest.approx(2 * 730 * 3600)  # 5,256,000
    assert cost.break_even_utilisation == pytest.approx(1 / 7)
    assert cost.per_1000 == pytest.approx(0.10) and cost.cheaper_than_api
    # At exactly the break-even utilisation the server costs what the API does.
    at_break_even = serving_cost(RENTED, level(), API, 1 / 7)
    assert at_break_even.per_1000 == pytest.approx(0.35)


def test_never_cheaper_when_even_a_busy_server_costs_more_than_the_api():
    # 0.1 answers/s: 262,800 a month at most, but 750,857 are needed; busy it costs 1.00.
    slow = serving_cost(RENTED, level(1), API, 1.0)
    assert slow.per_1000 == pytest.approx(1.0)
    assert slow.break_even_per_month is None and slow.break_even_utilisation is None
    assert serving_break_even(RENTED, 0.1, 0.00035) is None


def test_no_fixed_cost_saves_from_the_first_answer_unless_energy_costs_more():
    assert serving_break_even(OWNED_POWER_ONLY, 2.0, 0.00035) == 0.0
    # 0.03 / 7,200 = 0.0000042 of electricity per answer against an API at 0.000001.
    assert serving_break_even(OWNED_POWER_ONLY, 2.0, 0.000001) is None


@pytest.mark.parametrize("utilisation", [0.0, -0.5, 1.01])
def test_utilisation_outside_zero_to_one_is_refused(utilisation):
    with pytest.raises(InvalidRequest, match=r"Utilisation must be in \(0, 1\]"):
        serving_per_1000(RENTED, 2.0, utilisation)


def test_a_level_without_a_success_cannot_be_priced():
    with pytest.raises(InvalidRequest, match="No request succeeded"):
        serving_per_1000(RENTED, 0.0, 0.5)


def test_break_even_with_both_rent_and_energy():
    """Rent 0.36 an hour and 100 W at 0.30 a kWh, 2 answers/s, an API answer at 0.00035.
    Energy per answer: 0.1 kW * 0.30 / 3600 s / 2 = 4.1667e-6. Fixed a month: 0.36 * 730 =
    262.80. Break-even: 262.80 / (0.00035 - 4.1667e-6) = 759,903.6 answers a month, which is
    759,903.6 / (2 * 3600 * 730) = 14.458 % busy; priced there an answer costs what the API's
    does: 0.35 per 1,000."""
    both = HardwareProfile(
        "rented, metered", cost_per_hour=0.36, watts=100.0, electricity_per_kwh=0.30
    )
    cost = serving_cost(both, level(), API, 0.5)
    assert cost.break_even_per_month == pytest.approx(759_903.6, abs=0.5)
    assert cost.break_even_utilisation == pytest.approx(0.144578, abs=1e-6)
    at_break_even = serving_cost(both, level(), API, cost.break_even_utilisation)
    assert at_break_even.per_1000 == pytest.approx(0.35, abs=1e-9)
    assert at_break_even.per_1000 == pytest.approx(at_break_even.api_per_1000, abs=1e-9)


def test_the_cost_table_stays_numeric_when_a_level_never_breaks_even():
    """A slow level on a rented machine never beats the API: its break-even is missing (NaN),
    not None, so the page can round and format the column."""
    from core.app.loadtest import cost_frame

    slow = level(rps_times_10=1, seconds=100.0)  # 0.01 answers/s
    costs = [serving_cost(RENTED, slow, API, 0.5), serving_cost(RENTED, level(), API, 0.5)]
    assert costs[0].break_even_per_month is None
    frame = cost_frame(costs)
    rounded = frame["break-even answers/month"].round()
    assert rounded.isna().tolist() == [True, False]
    assert rounded.iloc[1] == pytest.approx(round(262.8 / 0.00035))
