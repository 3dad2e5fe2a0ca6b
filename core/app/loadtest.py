"""Use cases for load tests (serving cost under load): start one, list and read them, delete
one, and price its levels at a utilisation against an API."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.app import context, runs, worker
from core.engine.registry import resolve
from core.errors import InvalidRequest
from core.evaluation.loadtest import (
    DEFAULT_LEVELS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_REQUESTS,
    create_loadtest,
    parse_levels,
    plan_config,
)
from core.ranking.cost import check_utilisation, serving_cost
from core.types import ApiPrice, HardwareProfile, LoadTest, ModelInfo, RunKind, ServingCost

UTILISATIONS = tuple(u / 100 for u in range(10, 101, 5))  # the chart's x axis, 10-100 %


def endpoint_models() -> list[ModelInfo]:
    """The usable models served by an endpoint, the ones a load test is for."""
    return [m for m in context.list_models() if m.is_endpoint and m.usable]


def create(
    model: str,
    levels: tuple[int, ...] | str = DEFAULT_LEVELS,
    requests: int = DEFAULT_REQUESTS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> str:
    """A queued load test of `model` (a name or unique prefix); returns its run id. `levels`
    may be given as typed, e.g. "1,2,4,8"."""
    if isinstance(levels, str):
        levels = parse_levels(levels)
    info = resolve(model, context.list_models())
    return create_loadtest(context.store(), plan_config(info, levels, requests, max_tokens))


def start(
    model: str,
    levels: tuple[int, ...] | str = DEFAULT_LEVELS,
    requests: int = DEFAULT_REQUESTS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> str:
    """Create a load test and hand it to a background worker; returns its run id."""
    run_id = create(model, levels, requests, max_tokens)
    worker.launch(run_id)
    return run_id


def tests() -> list[LoadTest]:
    """Every load test, newest first, with what it measured so far; a test whose worker died
    is marked interrupted first."""
    runs.overview(kinds=(RunKind.LOADTEST,))  # settles abandoned runs
    return context.store().loadtests.tests()


def get(run_id: str) -> LoadTest:
    found = context.store().loadtests.tests(run_id)
    if not found:
        raise InvalidRequest(f"No load test with id {run_id!r}.")
    return found[0]


def delete(run_id: str) -> None:
    """Delete a load test that is not running, with every request it recorded."""
    get(run_id)  # a clear error for an id that is no load test
    runs.delete_run(run_id)


def over_capacity(test: LoadTest) -> tuple[int, ...]:
    """Levels above what the endpoint lets in flight at once: their excess requests waited
    inside PeRFICS, so they measure the endpoint at its capacity, with longer latencies."""
    capacity = test.config.capacity
    return tuple(c for c in test.config.concurrency if capacity and c > capacity)


def costs(
    test: LoadTest, hw: HardwareProfile, api: ApiPrice, utilisation: float
) -> list[ServingCost]:
    """Every measured level priced at `utilisation` (in (0, 1])."""
    check_utilisation(utilisation)
    return [serving_cost(hw, level, api, utilisation) for level in test.levels if level.succeeded]


def level_frame(test: LoadTest) -> pd.DataFrame:
    """What each level measured, as `perfics loadtest` prints it."""
    levels = test.levels
    return pd.DataFrame(
        {
            "concurrency": [lv.concurrency for lv in levels],
            "requests": [lv.requests for lv in levels],
            "ok": [lv.succeeded for lv in levels],
            "failed": [lv.failed for lv in levels],
            "req/s": [lv.requests_per_s for lv in levels],
            "output tok/s": [lv.output_tokens_per_s for lv in levels],
            "latency p50 (s)": [lv.latency_p50_s for lv in levels],
            "p90 (s)": [lv.latency_p90_s for lv in levels],
            "p99 (s)": [lv.latency_p99_s for lv in levels],
            "TTFT p50 (s)": [lv.ttft_p50_s for lv in levels],
        }
    )


def cost_frame(costs: list[ServingCost]) -> pd.DataFrame:
    """The page's table of costs, one row per level (money in the profile's currency)."""
    return pd.DataFrame(
        {
            "concurrency": [c.concurrency for c in costs],
            "answers/s": [c.requests_per_s for c in costs],
            "per 1,000 answers": [c.per_1000 for c in costs],
            "machine": [c.machine_per_1000 for c in costs],
            "energy": [c.energy_per_1000 for c in costs],
            "API per 1,000": [c.api_per_1000 for c in costs],
            # float columns with NaN where a level never breaks even, so they stay numeric
            "break-even answers/month": pd.to_numeric(
                [c.break_even_per_month for c in costs], errors="coerce"
            ),
            "break-even busy": pd.to_numeric(
                [c.break_even_utilisation for c in costs], errors="coerce"
            ),
        },
    )


def utilisation_curve(test: LoadTest, hw: HardwareProfile, api: ApiPrice) -> pd.DataFrame:
    """Cost per 1,000 answers against utilisation (10-100 %), one line per level."""
    rows = [
        {"concurrency": c.concurrency, "utilisation": u, "per_1000": c.per_1000}
        for u in UTILISATIONS
        for c in costs(test, hw, api, u)
    ]
    return pd.DataFrame(rows, columns=["concurrency", "utilisation", "per_1000"])


def utilisation_chart(curve: pd.DataFrame, api_per_1000: float | None, currency: str) -> go.Figure:
    """Cost per 1,000 answers against utilisation, one line per level, and the API's price
    for answers of the same length as a dashed line. The cost axis is logarithmic: a level's
    1 / utilisation is then a straight line, and it and the API's price fit on one chart
    however far apart they are."""
    fig = go.Figure()
    for concurrency, group in curve.groupby("concurrency"):
        fig.add_trace(
            go.Scatter(
                x=group.utilisation * 100,
                y=group.per_1000,
                mode="lines",
                name=f"concurrency {concurrency}",
            )
        )
    if api_per_1000 is not None:
        fig.add_hline(y=api_per_1000, line_dash="dash", annotation_text="API")
    fig.update_layout(
        xaxis_title="Utilisation (% of the time the server is busy)",
        yaxis_title=f"Cost per 1,000 answers ({currency}, log scale)",
        yaxis_type="log",
        margin={"t": 30},
    )
    return fig
