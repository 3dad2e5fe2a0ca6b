"""Inference cost from measurements only, turned into money and energy, and break-even
against paid APIs.

Nothing here is estimated from parameter counts: seconds, tokens and memory come from the
generations stored in DuckDB; the hardware profile and API prices are the user's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.types import AnswerCost, ApiPrice, HardwareProfile

# Published list prices at the dates given; edit them in the Costs page for today's prices.
API_PRESETS = (
    ApiPrice("GPT-4 (8k context)", 30.0, 60.0, "2023-06", "OpenAI list price, June 2023"),
    ApiPrice("GPT-3.5 Turbo", 1.5, 2.0, "2023-06", "OpenAI list price, June 2023"),
    ApiPrice("GPT-4o mini", 0.15, 0.60, "2024-07", "OpenAI list price, July 2024"),
)

HARDWARE_PRESETS = (
    HardwareProfile(
        "This laptop (owned)",
        purchase_price=1500.0,
        lifetime_years=3.0,
        watts=45.0,
        electricity_per_kwh=0.30,
    ),
    HardwareProfile("Cloud CPU VM (rented)", cost_per_hour=0.10, watts=0.0),
)


def monthly_local(hw: HardwareProfile, cost: AnswerCost, requests: float) -> float:
    return hw.fixed_per_month + requests * cost.seconds * hw.variable_per_second


def monthly_api(
    api: ApiPrice, requests: float, prompt_tokens: float, output_tokens: float
) -> float:
    return requests * api.per_request(prompt_tokens, output_tokens)


def break_even_requests(
    hw: HardwareProfile, cost: AnswerCost, api: ApiPrice, prompt_tokens: float, output_tokens: float
) -> float | None:
    """Requests per month above which running locally is cheaper than the API; 0 when local is
    cheaper from the first request, None when it never is."""
    api_each = api.per_request(prompt_tokens, output_tokens)
    local_each = cost.seconds * hw.variable_per_second
    if api_each <= local_each:
        return None
    return hw.fixed_per_month / (api_each - local_each)


def request_cost(
    seconds_per_answer: float,
    tokens_per_answer: float,
    answers: int,
    prompt_tokens: float,
    output_tokens: float,
) -> AnswerCost:
    """The measured cost of one answer, scaled to a request of output_tokens. The time is
    scaled by the length of the answer the user gets (the baseline's), so refinement's extra
    steps stay in the cost when seconds_per_answer includes them."""
    scale = output_tokens / max(tokens_per_answer, 1)
    return AnswerCost(seconds_per_answer * scale, prompt_tokens, output_tokens, answers)


@dataclass(frozen=True)
class BreakEven:
    """Monthly cost of running locally and of a paid API over a range of request volumes."""

    local: AnswerCost
    crossing: float | None  # requests per month; None when local is never cheaper
    volumes: list[float]
    local_monthly: list[float]
    api_monthly: list[float]


def break_even_curve(
    hw: HardwareProfile, local: AnswerCost, api: ApiPrice, points: int = 200
) -> BreakEven:
    """The two monthly cost curves up to twice the break-even volume (at least 10,000)."""
    crossing = break_even_requests(hw, local, api, local.prompt_tokens, local.completion_tokens)
    top = max(10_000.0, (crossing or 0) * 2)
    volumes = [top * i / (points - 1) for i in range(points)]
    return BreakEven(
        local,
        crossing,
        volumes,
        [monthly_local(hw, local, v) for v in volumes],
        [monthly_api(api, v, local.prompt_tokens, local.completion_tokens) for v in volumes],
    )
