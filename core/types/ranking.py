"""Records of the ranking layer: PeRFICS weights, hardware profiles, API prices and the
measured cost of one answer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InvalidRequest

COST_BASES = ("memory", "latency", "money")
HOURS_PER_MONTH = 730.0  # 365.25 days * 24 h / 12


@dataclass(frozen=True)
class Weights:
    performance: float = 1.0
    refinement: float = 0.5
    cost: float = 0.5
    basis: str = "latency"

    def __post_init__(self) -> None:
        # NaN passes every comparison below and an infinite sum makes every score NaN or 0.
        if not math.isfinite(self.performance + self.refinement + self.cost):
            raise InvalidRequest("weights must be finite numbers (no nan or inf)")
        if min(self.performance, self.refinement, self.cost) < 0:
            raise InvalidRequest("weights cannot be negative")
        if self.performance + self.refinement + self.cost <= 0:
            raise InvalidRequest("at least one weight must be positive")
        if self.basis not in COST_BASES:
            raise InvalidRequest(f"cost basis must be one of {', '.join(COST_BASES)}")


@dataclass(frozen=True)
class HardwareProfile:
    """What running the model costs. Either rent (cost_per_hour) or buy (purchase_price spread
    over lifetime_years); electricity is added on top for owned hardware."""

    name: str
    cost_per_hour: float = 0.0
    purchase_price: float = 0.0
    lifetime_years: float = 3.0
    watts: float = 65.0
    electricity_per_kwh: float = 0.30
    currency: str = "USD"  # what every money figure is in; prices above are in it too

    def __post_init__(self) -> None:
        if not self.currency.strip():
            raise InvalidRequest("currency cannot be empty")
        for field in (
            "cost_per_hour",
            "purchase_price",
            "lifetime_years",
            "watts",
            "electricity_per_kwh",
        ):
            if not math.isfinite(getattr(self, field)):
                raise InvalidRequest(f"{field} must be a finite number")
            if getattr(self, field) < 0:
                raise InvalidRequest(f"{field} cannot be negative")
        if self.lifetime_years <= 0:
            raise InvalidRequest("lifetime_years must be positive")

    @property
    def fixed_per_month(self) -> float:
        """Money owed each month whether or not the machine answers anything: the purchase
        spread over its lifetime, and rent for a machine kept running all month."""
        return (
            self.purchase_price / (self.lifetime_years * 12) + self.cost_per_hour * HOURS_PER_MONTH
        )

    @property
    def energy_cost_per_second(self) -> float:
        return self.watts / 1000 * self.electricity_per_kwh / 3600

    @property
    def variable_per_second(self) -> float:
        """Money that each extra second of inference adds: the electricity it draws."""
        return self.energy_cost_per_second

    @property
    def variable_per_hour(self) -> float:
        return self.variable_per_second * 3600

    @property
    def busy_cost_per_second(self) -> float:
        """Everything one second of the machine costs when it is busy all the time: rent, the
        purchase spread over its lifetime in seconds, and electricity."""
        lifetime_s = self.lifetime_years * 365.25 * 86400
        return (
            self.cost_per_hour / 3600
            + self.purchase_price / lifetime_s
            + self.energy_cost_per_second
        )


@dataclass(frozen=True)
class ApiPrice:
    """A paid API's list price. Prices change: every preset carries the date it was read."""

    name: str
    input_per_million: float
    output_per_million: float
    as_of: str
    note: str = ""

    def per_request(self, prompt_tokens: float, output_tokens: float) -> float:
        return (
            prompt_tokens * self.input_per_million + output_tokens * self.output_per_million
        ) / 1e6


@dataclass(frozen=True)
class AnswerCost:
    """Measured cost of one answer with a given number of refinement rounds."""

    seconds: float
    prompt_tokens: float
    completion_tokens: float
    samples: int

    def money_per_1000(self, hw: HardwareProfile) -> float:
        """What 1,000 answers cost on a machine kept busy: the cost basis PeRFICS ranks by."""
        return self.seconds * 1000 * hw.busy_cost_per_second

    def energy_kwh_per_1000(self, hw: HardwareProfile) -> float:
        return self.seconds * 1000 * hw.watts / 3.6e6


@dataclass(frozen=True)
class ServingCost:
    """What answers cost from a server measured under load (core/ranking/cost.py): at one
    concurrency level, busy `utilisation` of the time, against an API priced for answers of
    the same measured length. Money is in the hardware profile's currency."""

    concurrency: int
    requests_per_s: float  # answers per second while busy, measured
    utilisation: float  # the share of the time the server is busy, in (0, 1]
    machine_per_1000: float  # rent and purchase: the machine's hours, shared by its answers
    energy_per_1000: float  # electricity drawn while answering
    api_per_1000: float
    prompt_tokens: float  # per answer, measured
    output_tokens: float
    capacity_per_month: float  # answers a month when busy all the time
    break_even_per_month: float | None  # above this many a month the server is cheaper

    @property
    def per_1000(self) -> float:
        return self.machine_per_1000 + self.energy_per_1000

    @property
    def break_even_utilisation(self) -> float | None:
        """The busy share above which the server is cheaper than the API; None: never."""
        if self.break_even_per_month is None:
            return None
        return self.break_even_per_month / self.capacity_per_month

    @property
    def cheaper_than_api(self) -> bool:
        return self.per_1000 < self.api_per_1000
