"""Records for OpenAI-compatible endpoints: what the user declared, what a server reported
about one generation, and what a load test measured."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.errors import InvalidRequest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Upper case, as environment variable names are by convention: a key (gsk_…, hf_AbC…, sk-…)
# pasted into the field by mistake is refused rather than written to endpoints.toml and shown.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
MAX_CONCURRENCY = 64


def is_loopback(url: str) -> bool:
    """The URL's host is this machine (localhost or a loopback address): requests to it never
    leave the machine. Any other host, names included, may."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, field: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"{field} must be an http:// or https:// URL, got {url!r}")


@dataclass(frozen=True)
class EndpointConfig:
    """One OpenAI-compatible server (or several replicas serving the same model), as declared
    in endpoints.toml in the data folder. The API key itself is never stored: only the name of
    the environment variable that holds it."""

    name: str
    base_url: str  # up to and including /v1, e.g. http://127.0.0.1:8080/v1
    model: str  # the model id the server expects in requests
    api_key_env: str | None = None
    max_concurrency: int = 1  # requests in flight per URL
    timeout_s: float = 120.0
    replicas: tuple[str, ...] = ()  # more base URLs serving the same model

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidRequest(
                f"Endpoint name {self.name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit."
            )
        for i, url in enumerate(self.urls):
            _check_url(url, "base_url" if i == 0 else "each replica")
        if len(set(self.urls)) != len(self.urls):
            raise InvalidRequest(f"Endpoint {self.name}: a URL is listed twice.")
        if not self.model.strip():
            raise InvalidRequest(f"Endpoint {self.name}: model must name the served model id.")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            # Never echoed: the value may be a key pasted in the wrong place.
            raise InvalidRequest(
                f"Endpoint {self.name}: api_key_env must be the NAME of an environment "
                "variable holding the key, in capitals, digits and '_' (at most 64 "
                "characters, e.g. OPENAI_API_KEY), never the key itself."
            )
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise InvalidRequest(
                f"Endpoint {self.name}: max_concurrency must be 1-{MAX_CONCURRENCY}, "
                f"got {self.max_concurrency}"
            )
        if not 0 < self.timeout_s <= 3600:
            raise InvalidRequest(
                f"Endpoint {self.name}: timeout_s must be in (0, 3600], got {self.timeout_s}"
            )

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.base_url, *self.replicas)

    @property
    def capacity(self) -> int:
        """Requests this endpoint may have in flight at once, over all its replicas."""
        return self.max_concurrency * len(self.urls)

    @property
    def leaves_machine(self) -> bool:
        return not all(is_loopback(u) for u in self.urls)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"name": self.name, "base_url": self.base_url, "model": self.model}
        if self.api_key_env:
            row["api_key_env"] = self.api_key_env
        row["max_concurrency"] = self.max_concurrency
        row["timeout_s"] = self.timeout_s
        if self.replicas:
            row["replicas"] = list(self.replicas)
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> EndpointConfig:
        known = {"name", "base_url", "model", "api_key_env", "max_concurrency", "timeout_s"}
        unknown = set(row) - known - {"replicas"}
        if unknown:
            raise InvalidRequest(f"Unknown endpoint setting(s): {', '.join(sorted(unknown))}")
        missing = {"name", "base_url", "model"} - set(row)
        if missing:
            raise InvalidRequest(f"Endpoint is missing {', '.join(sorted(missing))}")
        try:
            return cls(
                name=str(row["name"]),
                base_url=str(row["base_url"]).rstrip("/"),
                model=str(row["model"]),
                api_key_env=row.get("api_key_env") or None,
                max_concurrency=int(row.get("max_concurrency", 1)),
                timeout_s=float(row.get("timeout_s", 120.0)),
                replicas=tuple(str(u).rstrip("/") for u in row.get("replicas", ())),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"Endpoint {row.get('name')!r}: {exc}") from exc


@dataclass(frozen=True)
class ServerTimings:
    """What a llama.cpp server reports about one request (its `timings` object): tokens of the
    prompt evaluated, taken from its cache, and generated, with the milliseconds each took."""

    prompt_n: int | None = None
    cache_n: int | None = None
    prompt_ms: float | None = None
    prompt_per_second: float | None = None
    predicted_n: int | None = None
    predicted_ms: float | None = None
    predicted_per_second: float | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ServerTimings:
        def number(key: str, kind: type) -> Any:
            value = raw.get(key)
            return kind(value) if isinstance(value, int | float) else None

        return cls(
            prompt_n=number("prompt_n", int),
            cache_n=number("cache_n", int),
            prompt_ms=number("prompt_ms", float),
            prompt_per_second=number("prompt_per_second", float),
            predicted_n=number("predicted_n", int),
            predicted_ms=number("predicted_ms", float),
            predicted_per_second=number("predicted_per_second", float),
        )


@dataclass(frozen=True)
class EndpointProblem:
    """Why an entry of endpoints.toml (or the whole file, when `entry` is None) is not used.
    `entry` counts the [[endpoint]] tables from 1; `name` is the entry's name if it has one."""

    reason: str
    entry: int | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How the model list names the entry: its name, else its place in the file."""
        if self.name:
            return self.name
        return f"endpoint #{self.entry}" if self.entry else "endpoints.toml"


@dataclass(frozen=True)
class EndpointList:
    """What endpoints.toml declares: the valid endpoints in file order, and a problem for each
    entry that is not valid (or one for a file that cannot be read as TOML)."""

    configs: tuple[EndpointConfig, ...] = ()
    problems: tuple[EndpointProblem, ...] = ()

    def named(self, name: str) -> EndpointConfig | None:
        return next((c for c in self.configs if c.name == name), None)

    @property
    def leaving_machine(self) -> tuple[EndpointConfig, ...]:
        return tuple(c for c in self.configs if c.leaves_machine)
