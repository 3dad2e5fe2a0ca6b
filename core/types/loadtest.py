"""Records of a load test (issue 14, serving cost under load): one model, an endpoint in
practice, sent the same chat requests at several concurrency levels in turn; what each request
took, and what each level adds up to."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from core.errors import InvalidRequest
from core.types.engine import SamplerSettings

MAX_LOAD_CONCURRENCY = 256
MAX_LOAD_REQUESTS = 100_000


@dataclass(frozen=True)
class LoadTestConfig:
    """A load test as its run stores it. Request i of every level sends prompts[i % len(prompts)]
    as one user message, so every level sends the same mix. `capacity` is what the endpoint
    lets in flight at once over all its URLs (None for a local model, which answers one
    request at a time); a level above it queues the excess inside PeRFICS."""

    model: str
    model_sha256: str | None
    endpoint: str | None  # the endpoint's name; None for a local model file
    urls: tuple[str, ...]
    capacity: int | None
    leaves_machine: bool
    concurrency: tuple[int, ...]
    requests: int  # per level
    settings: SamplerSettings
    prompts: tuple[str, ...]
    prompt_source: str  # where the prompts came from, e.g. "built-in suite"

    def __post_init__(self) -> None:
        if not self.concurrency:
            raise InvalidRequest("Give at least one concurrency level, e.g. 1,2,4,8.")
        if any(not 1 <= c <= MAX_LOAD_CONCURRENCY for c in self.concurrency):
            raise InvalidRequest(
                f"Each concurrency level must be 1-{MAX_LOAD_CONCURRENCY}, got "
                f"{', '.join(map(str, self.concurrency))}."
            )
        if len(set(self.concurrency)) != len(self.concurrency):
            raise InvalidRequest("A concurrency level is listed twice.")
        if not 1 <= self.requests <= MAX_LOAD_REQUESTS:
            raise InvalidRequest(
                f"Requests per level must be 1-{MAX_LOAD_REQUESTS:,}, got {self.requests}."
            )
        if not self.prompts or not all(p.strip() for p in self.prompts):
            raise InvalidRequest("A load test needs non-empty prompts to send.")

    @property
    def max_tokens(self) -> int:
        return self.settings.max_tokens

    @property
    def model_names(self) -> tuple[str, ...]:
        return (self.model,)

    def prompt(self, request_no: int) -> str:
        return self.prompts[request_no % len(self.prompts)]

    def to_json(self) -> dict[str, Any]:
        return {
            # "models" as the other run kinds keep theirs (ModelRef's fields), so listings of
            # runs name the model and say whether prompts sent to it left this machine.
            "models": [
                {
                    "name": self.model,
                    "sha256": self.model_sha256,
                    "endpoint": self.endpoint,
                    "leaves_machine": self.leaves_machine,
                }
            ],
            "endpoint": self.endpoint,
            "urls": list(self.urls),
            "capacity": self.capacity,
            "leaves_machine": self.leaves_machine,
            "concurrency": list(self.concurrency),
            "requests": self.requests,
            "settings": asdict(self.settings),
            "prompts": list(self.prompts),
            "prompt_source": self.prompt_source,
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> LoadTestConfig:
        (model,) = stored["models"]
        return cls(
            model=model["name"],
            model_sha256=model.get("sha256"),
            endpoint=stored.get("endpoint"),
            urls=tuple(stored.get("urls") or ()),
            capacity=stored.get("capacity"),
            leaves_machine=bool(stored.get("leaves_machine")),
            concurrency=tuple(int(c) for c in stored["concurrency"]),
            requests=int(stored["requests"]),
            settings=SamplerSettings.from_dict(stored["settings"]),
            prompts=tuple(stored["prompts"]),
            prompt_source=stored.get("prompt_source", ""),
        )


@dataclass(frozen=True)
class LoadRequest:
    """One request of a level, timed by the client from the call to its last token: waiting for
    a free slot in the backend included, as a caller would wait. `ttft_s` is the time to the
    first streamed token (None when nothing streamed). A failed request keeps why."""

    no: int
    ok: bool
    started_s: float  # when it was sent, in seconds after the level began
    latency_s: float
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    endpoint_url: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class LevelMeasurement:
    """What one level measured: its wall time (first request sent to last reply) and every
    request."""

    concurrency: int
    seconds: float
    requests: tuple[LoadRequest, ...]
    server: str | None = None  # what the server said it is, from a reply


@dataclass(frozen=True)
class LoadLevel:
    """One concurrency level of a load test: `requests` requests with at most `concurrency`
    in flight. Latencies are per request, client-side, in seconds, over the requests that
    succeeded; percentiles interpolate linearly between the two nearest ranks (DuckDB's
    quantile_cont, numpy's default): p at position (n - 1) * p of the sorted values."""

    concurrency: int
    requests: int
    succeeded: int
    failed: int
    seconds: float  # wall time of the level
    output_tokens: int
    latency_p50_s: float | None
    latency_p90_s: float | None
    latency_p99_s: float | None
    ttft_p50_s: float | None
    ttft_p90_s: float | None
    prompt_tokens: int = 0
    failures: tuple[tuple[str, int], ...] = ()  # (reason, requests), most frequent first
    server: str | None = None

    @property
    def requests_per_s(self) -> float:
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0

    @property
    def output_tokens_per_s(self) -> float:
        return self.output_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def mean_output_tokens(self) -> float | None:
        return self.output_tokens / self.succeeded if self.succeeded else None

    @property
    def mean_prompt_tokens(self) -> float | None:
        return self.prompt_tokens / self.succeeded if self.succeeded else None


@dataclass(frozen=True)
class LoadTest:
    """A stored load test: its configuration, its run's status, and the levels measured so
    far in the order they ran."""

    id: str  # the run's id
    config: LoadTestConfig
    status: str  # the run's status (core.types.runs.RunStatus)
    created_at: datetime
    levels: tuple[LoadLevel, ...]
    error: str | None = None

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def plan(self) -> str:
        """Its levels and requests, e.g. "concurrency 1,2,4 · 16 requests"."""
        levels = ",".join(map(str, self.config.concurrency))
        return f"concurrency {levels} · {self.config.requests} requests"

    @property
    def label(self) -> str:
        """How a listing names it: model, levels and requests."""
        return f"{self.config.model} · {self.plan}"
