"""endpoints.toml: the OpenAI-compatible servers the user declared, read and written here.

The file holds one [[endpoint]] table per endpoint (core/types/endpoints.py names the fields).
Reading never raises for a bad file: an entry that is not valid comes back as a problem with
its reason (the model list shows it as unusable), and so does a file that is not TOML. Writing
is ours (no TOML-writing dependency): strings are quoted and escaped, and the file is replaced
atomically, so a reader never sees half of it. API keys are never written, only the name of
the environment variable that holds one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core.errors import InvalidRequest
from core.types import EndpointConfig, EndpointList, EndpointProblem, ModelInfo

HEADER = """\
# OpenAI-compatible endpoints PeRFICS Studio may send prompts to: one [[endpoint]] table each.
# API keys are never stored here: api_key_env is the NAME of the environment variable that
# holds the key, read when a request is sent.
# Fields: name, base_url (up to and including /v1), model (the id the server serves),
# api_key_env, max_concurrency (requests in flight per URL), timeout_s (seconds), replicas
# (more base URLs serving the same model).
# The Models page and `perfics endpoints` rewrite this file; other comments are not kept.
"""
_TEXT_FIELDS = ("name", "base_url", "model", "api_key_env")
_KEY_FIELDS = ("api_key", "key", "token", "api_token", "secret")


def _field_problem(row: dict[str, Any]) -> str | None:
    """A value of the wrong TOML type, said plainly (never echoing the value: it might be a
    key someone pasted in the wrong place)."""
    for key in _KEY_FIELDS:
        if key in row:
            return (
                f"{key}: keys are never stored in endpoints.toml; put the key in an environment "
                "variable and give its name as api_key_env"
            )
    for key in _TEXT_FIELDS:
        if key in row and not isinstance(row[key], str):
            return f"{key} must be a string in quotes"
    concurrency = row.get("max_concurrency", 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        return "max_concurrency must be a whole number"
    timeout = row.get("timeout_s", 1.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return "timeout_s must be a number of seconds"
    replicas = row.get("replicas", [])
    if not isinstance(replicas, list) or not all(isinstance(u, str) for u in replicas):
        return "replicas must be a list of URLs in quotes"
    return None


def parse_endpoints(text: str) -> EndpointList:
    """The endpoints declared in a TOML text, and the problems of those that are not valid."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return EndpointList(problems=(EndpointProblem(f"not valid TOML: {exc}"),))
    problems: list[EndpointProblem] = []
    unknown = sorted(set(document) - {"endpoint"})
    if unknown:
        problems.append(
            EndpointProblem(
                f"unknown top-level key(s) {', '.join(unknown)}: endpoints are [[endpoint]] tables"
            )
        )
    entries = document.get("endpoint", [])
    if not isinstance(entries, list):
        entries = []
        problems.append(EndpointProblem("endpoint must be written [[endpoint]], one table each"))
    configs: list[EndpointConfig] = []
    for number, row in enumerate(entries, start=1):
        if not isinstance(row, dict):
            problems.append(EndpointProblem("not a table of settings", number))
            continue
        name = row.get("name") if isinstance(row.get("name"), str) else None
        try:
            if reason := _field_problem(row):
                raise InvalidRequest(reason)
            config = EndpointConfig.from_dict(row)
        except InvalidRequest as exc:
            problems.append(EndpointProblem(str(exc), number, name))
            continue
        if any(c.name == config.name for c in configs):
            reason = f"the name {config.name} is used by an earlier entry, which is the one used"
            problems.append(EndpointProblem(reason, number, None))
            continue
        configs.append(config)
    return EndpointList(tuple(configs), tuple(problems))


def load_endpoints(path: Path) -> EndpointList:
    """What `path` declares; a missing file declares no endpoints. Never raises for a bad or
    unreadable file: the reason comes back as a problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark is not TOML
    except FileNotFoundError:
        return EndpointList()
    except UnicodeDecodeError as exc:
        return EndpointList(problems=(EndpointProblem(f"not UTF-8 text (byte {exc.start})"),))
    except OSError as exc:
        return EndpointList(problems=(EndpointProblem(f"cannot be read: {exc.strerror}"),))
    return parse_endpoints(text)


_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"'}
_ESCAPES["\\"] = "\\\\"


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise InvalidRequest(f"{text!r} holds a lone surrogate, which no file can store")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # always has a '.' or an exponent, as TOML floats must
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def dump_endpoints(configs: Sequence[EndpointConfig]) -> str:
    """The file's text for these endpoints, header first."""
    tables = [
        "[[endpoint]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in c.to_dict().items())
        for c in configs
    ]
    return HEADER + "".join("\n" + table for table in tables)


def save_endpoints(path: Path, configs: Sequence[EndpointConfig]) -> None:
    """Writes the endpoints to `path` atomically: a temporary file beside it, then a rename.
    A folder that cannot be written (read-only, no permission, not a folder) is an
    InvalidRequest naming the file and the reason; the file is then left as it was."""
    text = dump_endpoints(configs)
    try:
        _write_atomically(path, text)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise InvalidRequest(
            f"Cannot save the endpoints to {path}: {reason}. Make its folder writable, or set "
            "PERFICS_ENDPOINTS_FILE to a file in a folder that is."
        ) from exc


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def endpoint_model_info(config: EndpointConfig) -> ModelInfo:
    """The endpoint as the model list shows it. `path` names no file; `sha256` identifies the
    endpoint's name and served model id, so runs tell one endpoint's answers from another's."""
    identity = f"endpoint\0{config.name}\0{config.model}".encode()
    return ModelInfo(
        name=config.name,
        path=Path(f"endpoint:{config.name}"),
        file_size=0,
        usable=True,
        sha256=hashlib.sha256(identity).hexdigest(),
        display_name=config.model,
        has_chat_template=True,
        endpoint=config,
    )


def gguf_stems(models_dir: Path) -> set[str]:
    """The names the model files in `models_dir` go by (no metadata is read)."""
    try:
        if not models_dir.is_dir():
            return set()
        return {p.stem for p in models_dir.iterdir() if p.suffix.lower() == ".gguf" and p.is_file()}
    except OSError:  # a folder that cannot be reached holds no name an endpoint could clash with
        return set()


def _editable(path: Path) -> EndpointList:
    """The file's endpoints, refused while it has problems: rewriting it would drop them."""
    listing = load_endpoints(path)
    if listing.problems:
        where = "; ".join(f"{p.label}: {p.reason}" for p in listing.problems)
        raise InvalidRequest(
            f"{path} has problems ({where}). Fix or remove them in the file first: saving "
            "from here would drop them."
        )
    return listing


def _check_name(config: EndpointConfig, others: Iterable[EndpointConfig], files: set[str]):
    if any(c.name == config.name for c in others):
        raise InvalidRequest(f"There is already an endpoint named {config.name}.")
    clash = next((s for s in files if s.lower() == config.name.lower()), None)
    if clash is not None:
        raise InvalidRequest(
            f"{config.name} is the name of the model file {clash}.gguf in the models folder; "
            "give the endpoint another name."
        )


def add_endpoint(path: Path, config: EndpointConfig, file_names: Iterable[str] = ()) -> None:
    """Adds an endpoint; refuses a name already used by an endpoint or a model file."""
    listing = _editable(path)
    _check_name(config, listing.configs, set(file_names))
    save_endpoints(path, [*listing.configs, config])


def update_endpoint(
    path: Path, name: str, config: EndpointConfig, file_names: Iterable[str] = ()
) -> None:
    """Replaces endpoint `name` with `config` (which may rename it), in the same place."""
    listing = _editable(path)
    if listing.named(name) is None:
        raise InvalidRequest(f"No endpoint named {name} in {path}.")
    others = [c for c in listing.configs if c.name != name]
    _check_name(config, others, set(file_names))
    save_endpoints(path, [config if c.name == name else c for c in listing.configs])


def remove_endpoint(path: Path, name: str) -> None:
    listing = _editable(path)
    if listing.named(name) is None:
        raise InvalidRequest(f"No endpoint named {name} in {path}.")
    save_endpoints(path, [c for c in listing.configs if c.name != name])
