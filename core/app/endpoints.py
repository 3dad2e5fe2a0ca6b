"""Use cases for OpenAI-compatible endpoints, shared by the Models page and `perfics
endpoints`: list, add, update and remove the endpoints declared in endpoints.toml (in the data
folder unless PERFICS_ENDPOINTS_FILE says otherwise), check that one answers, and say which
endpoints (and which runs' models) send data off this machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.app import context
from core.app.formatting import data_left_text
from core.engine import endpoint_config as files
from core.errors import InvalidRequest
from core.types import EndpointConfig, EndpointList, LoadTestConfig, ModelRef


def endpoints_path() -> Path:
    return context.settings().endpoints_path


def listing() -> EndpointList:
    """The declared endpoints and the problems of entries that are not valid."""
    return files.load_endpoints(endpoints_path())


@dataclass(frozen=True)
class EndpointRow:
    """An endpoint as the page's table and `perfics endpoints list` show it. `key_set` says
    whether the key's environment variable is set here (None: no key is used); the key
    itself is never read into a row."""

    name: str
    urls: tuple[str, ...]
    model: str
    max_concurrency: int
    capacity: int
    timeout_s: float
    api_key_env: str | None
    key_set: bool | None
    leaves_machine: bool

    @classmethod
    def of(cls, c: EndpointConfig) -> EndpointRow:
        key_set = bool(os.environ.get(c.api_key_env)) if c.api_key_env else None
        return cls(
            c.name,
            c.urls,
            c.model,
            c.max_concurrency,
            c.capacity,
            c.timeout_s,
            c.api_key_env,
            key_set,
            c.leaves_machine,
        )


def rows(found: EndpointList | None = None) -> list[EndpointRow]:
    return [EndpointRow.of(c) for c in (found or listing()).configs]


def config_from_form(
    name: str,
    urls: str,
    model: str,
    api_key_env: str = "",
    max_concurrency: int = 1,
    timeout_s: float = 120.0,
) -> EndpointConfig:
    """An endpoint from what a form holds: `urls` one base URL a line, the first the main one
    and the others replicas serving the same model; blank lines are ignored."""
    lines = [u.strip().rstrip("/") for u in urls.splitlines() if u.strip()]
    if not lines:
        raise InvalidRequest("Give the endpoint's base URL, e.g. http://127.0.0.1:8080/v1.")
    return EndpointConfig(
        name=name.strip(),
        base_url=lines[0],
        model=model.strip(),
        api_key_env=api_key_env.strip() or None,
        max_concurrency=int(max_concurrency),
        timeout_s=float(timeout_s),
        replicas=tuple(lines[1:]),
    )


def _file_names() -> set[str]:
    return files.gguf_stems(context.settings().models_dir)


def add(config: EndpointConfig) -> None:
    files.add_endpoint(endpoints_path(), config, _file_names())


def update(name: str, config: EndpointConfig) -> None:
    files.update_endpoint(endpoints_path(), name, config, _file_names())


def remove(name: str) -> None:
    files.remove_endpoint(endpoints_path(), name)


def named(name: str) -> EndpointConfig:
    config = listing().named(name)
    if config is None:
        known = ", ".join(c.name for c in listing().configs) or "none"
        raise InvalidRequest(f"No endpoint named {name!r}. Endpoints: {known}")
    return config


def check(name: str) -> str:
    """Asks each of the endpoint's URLs for its models (GET …/models): the server's one-line
    description, or the EndpointError saying why it did not answer. Contacts only the URLs
    the user declared for this endpoint."""
    from core.engine.endpoint import EndpointBackend

    backend = EndpointBackend(files.endpoint_model_info(named(name)))
    try:
        return backend.check()
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def leaving_machine() -> tuple[str, ...]:
    """Names of the declared endpoints that are not on this machine."""
    return tuple(c.name for c in listing().leaving_machine)


def data_left(config) -> str | None:
    """A run's note when any model it recorded (candidates, judge, a refinement's model, or
    the endpoint a load test measured) was served from another machine, e.g. "data left this
    machine (endpoint big)"."""
    if isinstance(config, LoadTestConfig):
        return data_left_text(config.endpoint if config.leaves_machine else None)
    refs = [*getattr(config, "models", ()), getattr(config, "judge", None)]
    refs.append(getattr(config, "model", None))
    refs = [r for r in refs if isinstance(r, ModelRef)]
    names = sorted({r.endpoint for r in refs if r.leaves_machine and r.endpoint})
    return data_left_text(names)


def run_data_left(run_id: str) -> str | None:
    return data_left(context.store().runs.get(run_id).config)
