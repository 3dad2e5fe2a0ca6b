"""Inference cost from measurements only, turned into money and energy, and break-even
against paid APIs.

Nothing here is estimated from parameter counts: seconds, tokens and memory come from the
generations stored in DuckDB (or a load test's levels); the hardware profile and API prices
are the user's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidRequest
from core.types import AnswerCost, ApiPrice, HardwareProfile, LoadLevel, ServingCost
from core.types.ranking import HOURS_PER_MONTH

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


def check_utilisation(utilisation: float) -> None:
    if not 0 < utilisation <= 1:
        raise InvalidRequest(f"Utilisation must be in (0, 1] (0-100 %), got {utilisation}")


def serving_per_1000(
    hw: HardwareProfile, requests_per_s: float, utilisation: float
) -> tuple[float, float]:
    """(machine, energy): money per 1,000 answers from a server that answers `requests_per_s`
    while busy and is busy `utilisation` of the time.

    machine = hourly cost / (requests_per_s * 3600 * utilisation) * 1000, the hourly cost
    being rent plus the purchase spread over the lifetime (fixed_per_month / HOURS_PER_MONTH):
    the machine is paid for every hour, so idle hours raise the cost of each answer (1 / u).
    energy = 1000 / requests_per_s seconds of busy time at the profile's power draw; idle
    draw is not counted (the profile holds one figure, the draw while answering)."""
    check_utilisation(utilisation)
    if requests_per_s <= 0:
        raise InvalidRequest("No request succeeded at this level: nothing to price.")
    per_hour = hw.fixed_per_month / HOURS_PER_MONTH
    machine = per_hour / (requests_per_s * 3600 * utilisation) * 1000
    energy = 1000 / requests_per_s * hw.energy_cost_per_second
    return machine, energy


def serving_break_even(hw: HardwareProfile, requests_per_s: float, api_each: float) -> float | None:
    """Answers per month above which the server costs less than the API: the month's fixed
    cost over what each answer saves (API price minus its energy); 0 when the server has no
    fixed cost and saves on every answer. None when it never does: an answer's energy costs
    more than the API, or the volume is more than the server can answer in a month at this
    level (a second machine would cost the same again)."""
    energy_each = hw.energy_cost_per_second / requests_per_s
    if api_each <= energy_each:
        return None
    volume = hw.fixed_per_month / (api_each - energy_each)
    capacity = requests_per_s * HOURS_PER_MONTH * 3600
    return volume if volume <= capacity else None


def serving_cost(
    hw: HardwareProfile, level: LoadLevel, api: ApiPrice, utilisation: float
) -> ServingCost:
    """One load-test level priced at a utilisation, against an API charging for answers of
    the level's measured mean prompt and output tokens."""
    machine, energy = serving_per_1000(hw, level.requests_per_s, utilisation)
    prompt_tokens = level.mean_prompt_tokens or 0.0
    output_tokens = level.mean_output_tokens or 0.0
    api_each = api.per_request(prompt_tokens, output_tokens)
    return ServingCost(
        concurrency=level.concurrency,
        requests_per_s=level.requests_per_s,
        utilisation=utilisation,
        machine_per_1000=machine,
        energy_per_1000=energy,
        api_per_1000=api_each * 1000,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        capacity_per_month=level.requests_per_s * HOURS_PER_MONTH * 3600,
        break_even_per_month=serving_break_even(hw, level.requests_per_s, api_each),
    )
