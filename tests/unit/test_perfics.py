"""PeRFICS: the formula's stated properties (property-based), the Pareto frontier, and the
cost arithmetic on hand-worked examples."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidRequest
from core.ranking.cost import (
    API_PRESETS,
    AnswerCost,
    ApiPrice,
    HardwareProfile,
    break_even_requests,
    monthly_api,
    monthly_local,
)
from core.ranking.perfics import PRESETS, normalise_score, pareto_front, perfics, rank
from core.types import COST_BASES, Weights

unit = st.floats(0, 1, allow_nan=False)
gain = st.floats(-1, 1, allow_nan=False)
cost = st.floats(0, 1e4, allow_nan=False)
weight = st.floats(0, 5, allow_nan=False)
bases = st.sampled_from(COST_BASES)


@st.composite
def weights(draw):
    w = (draw(weight), draw(weight), draw(weight))
    if sum(w) == 0:
        w = (1.0, 0.0, 0.0)
    return Weights(*w, basis=draw(bases))


@given(weights(), unit, unit, gain, cost)
def test_monotone_in_performance(w, p1, p2, g, c):
    lo, hi = sorted((p1, p2))
    assert perfics(lo, g, c, w) <= perfics(hi, g, c, w) + 1e-12


@given(weights(), unit, gain, gain, cost)
def test_monotone_in_refinement_gain(w, p, g1, g2, c):
    lo, hi = sorted((g1, g2))
    assert perfics(p, lo, c, w) <= perfics(p, hi, c, w) + 1e-12


@given(weights(), unit, gain, cost, cost)
def test_monotone_decreasing_in_cost(w, p, g, c1, c2):
    lo, hi = sorted((c1, c2))
    assert perfics(p, g, hi, w) <= perfics(p, g, lo, w) + 1e-12


@given(weights(), unit, gain, cost)
def test_bounded(w, p, g, c):
    assert -1.0 - 1e-12 <= perfics(p, g, c, w) <= 1.0 + 1e-12


@given(st.lists(st.tuples(unit, unit, cost), min_size=1, max_size=8), st.floats(0.01, 5), bases)
def test_zero_refinement_and_cost_weights_rank_by_refined_performance(models, wp, basis):
    w = Weights(wp, 0.0, 0.0, basis)
    column = {"memory": "memory_gb", "latency": "seconds_per_answer", "money": "money_per_1000"}
    df = pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(len(models))],
            "performance": [m[0] for m in models],
            "baseline_performance": [m[1] for m in models],
            column[basis]: [m[2] for m in models],
        }
    )
    ranked = rank(df, w)
    assert list(ranked.performance) == sorted(df.performance, reverse=True)
    for r in ranked.itertuples():
        assert r.perfics == pytest.approx(r.performance)


def test_gain_is_clipped_and_weights_are_checked():
    w = Weights(1, 1, 0)
    assert perfics(0.5, 3.0, 0, w) == perfics(0.5, 1.0, 0, w)
    with pytest.raises(InvalidRequest):
        Weights(-1, 0, 0)
    with pytest.raises(InvalidRequest):
        Weights(0, 0, 0)
    with pytest.raises(InvalidRequest):
        Weights(1, 0, 0, basis="vibes")


def test_cost_term_is_one_half_at_the_reference_cost():
    w = Weights(0, 0, 1, "latency")
    assert perfics(0, 0, 10.0, w) == pytest.approx(0.5)  # C0 = 10 s
    assert perfics(0, 0, 0.0, w) == pytest.approx(1.0)


def test_normalise_score():
    assert (normalise_score(1), normalise_score(10), normalise_score(5.5)) == (0, 1, 0.5)
    assert normalise_score(None) is None and normalise_score(float("nan")) is None


def test_presets_cover_the_three_case_studies():
    assert set(PRESETS) == {"laptop-assistant", "interactive-dialogue", "quality-coding"}
    assert [PRESETS[k].basis for k in PRESETS] == ["memory", "latency", "money"]


def test_pareto_frontier_on_known_points():
    quality = [0.9, 0.8, 0.8, 0.5, 0.95, 0.5]
    cost = [10, 5, 6, 1, 20, 1]
    #          on   on  dominated-by-1  on   on   tie-with-3 (neither dominates)
    assert pareto_front(quality, cost) == [True, True, False, True, True, True]
    assert pareto_front([0.5], [3]) == [True]


@given(st.lists(st.tuples(unit, cost), min_size=1, max_size=12))
def test_pareto_points_are_not_dominated_and_others_are(points):
    quality, costs = [p[0] for p in points], [p[1] for p in points]
    front = pareto_front(quality, costs)
    assert any(front)
    for i, on in enumerate(front):
        dominated = any(
            quality[j] >= quality[i]
            and costs[j] <= costs[i]
            and (quality[j] > quality[i] or costs[j] < costs[i])
            for j in range(len(points))
        )
        assert on == (not dominated)


def test_break_even_hand_worked_gpt4_example():
    # 2k prompt + 1k output tokens at GPT-4's June 2023 list price ($30 / $60 per 1M):
    # 2000 * 30 / 1e6 + 1000 * 60 / 1e6 = 0.06 + 0.06 = $0.12 per request.
    gpt4 = API_PRESETS[0]
    assert gpt4.per_request(2000, 1000) == pytest.approx(0.12)
    # A box bought for $8,820 over 3 years costs $245 a month. One 10 s answer at 100 W uses
    # 1,000 J = 1/3600 kWh, which at $0.36/kWh is $0.0001.
    box = HardwareProfile(
        "box", purchase_price=8820, lifetime_years=3, watts=100, electricity_per_kwh=0.36
    )
    answer = AnswerCost(seconds=10, prompt_tokens=2000, completion_tokens=1000, samples=1)
    assert box.fixed_per_month == pytest.approx(245.0)
    assert answer.seconds * box.variable_per_second == pytest.approx(0.0001)
    # Break-even: 245 / (0.12 - 0.0001) = 2,043.4 requests a month.
    crossing = break_even_requests(box, answer, gpt4, 2000, 1000)
    assert crossing == pytest.approx(245 / 0.1199)
    assert round(crossing) == 2043
    assert monthly_local(box, answer, crossing) == pytest.approx(
        monthly_api(gpt4, crossing, 2000, 1000)
    )


def test_break_even_edge_cases():
    free_api = ApiPrice("free", 0, 0, "2026-01")
    rented = HardwareProfile("vm", cost_per_hour=3.6, watts=0)  # $0.001 per second
    answer = AnswerCost(seconds=10, prompt_tokens=10, completion_tokens=10, samples=1)
    assert break_even_requests(rented, answer, free_api, 10, 10) is None  # never cheaper
    # A rented machine kept up all month: 3.6 * 730 h = $2,628 fixed. At $20 per request
    # (10 + 10 tokens at $1M per million each) it pays off after 131.4 requests.
    assert rented.fixed_per_month == pytest.approx(2628.0)
    pricey = ApiPrice("pricey", 1e6, 1e6, "2026-01")
    assert break_even_requests(rented, answer, pricey, 10, 10) == pytest.approx(131.4)
    assert break_even_requests(HardwareProfile("free", watts=0), answer, pricey, 10, 10) == 0
    assert answer.money_per_1000(rented) == pytest.approx(10.0)  # 10 s x 1000 x $0.001/s
    bought = HardwareProfile("pc", purchase_price=31557.6, lifetime_years=1, watts=0)
    assert answer.money_per_1000(bought) == pytest.approx(10.0)  # $0.001 per lifetime second
    assert answer.energy_kwh_per_1000(HardwareProfile("x", watts=360)) == pytest.approx(1.0)
    with pytest.raises(InvalidRequest):
        HardwareProfile("bad", watts=-1)
    with pytest.raises(InvalidRequest):
        HardwareProfile("bad", lifetime_years=0)
