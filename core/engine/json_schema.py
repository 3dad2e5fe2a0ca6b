"""JSON schema → GBNF grammar, so a backend can force output that parses against a schema.

Uses llama-cpp-python's converter directly. Its own callers (`response_format`, tool calls)
swallow a failed conversion and fall back to "any JSON", and the converter itself quietly
drops keywords it cannot express (`minimum`, `format: uri`, ...). Here both become
InvalidRequest errors that name the problem, before any time is spent generating.
The grammar text goes into SamplerSettings.grammar, so the backend's grammar pre-parse
guards it like any other grammar and the stored generation records it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidRequest

# Keywords the converter turns into grammar rules, and annotations that constrain nothing.
ENFORCED = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems",
    "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs",
    "definitions", "pattern", "format", "minLength", "maxLength",
}  # fmt: skip
ANNOTATIONS = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples",
    "readOnly", "writeOnly", "deprecated",
}  # fmt: skip
FORMATS = {"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"}
LOOSE_CHAR = 'char ::= [^"\\\\]'
STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'
TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


@dataclass(frozen=True)
class SchemaGrammar:
    """A schema and the GBNF grammar that forces output matching it."""

    schema: dict[str, Any]
    grammar: str


def load_schema(text: str, source: str = "The schema") -> dict[str, Any]:
    """A JSON schema from its text: must be JSON and a JSON object."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from exc
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"{source} must be a JSON object (a JSON schema), not {type(schema).__name__}."
        )
    return schema


def load_schema_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark is not JSON
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"Cannot read the schema file {path}: {exc}") from exc
    return load_schema(text, f"The schema file {path}")


def unsupported(schema: Any, where: str = "") -> list[str]:
    """Every keyword (with its JSON pointer) that a grammar would silently not enforce."""
    if isinstance(schema, bool):
        return [] if schema else [f"`false` (matches nothing) at {where or '/'}"]
    if not isinstance(schema, dict):
        return [f"a {type(schema).__name__} where a schema belongs, at {where or '/'}"]
    found = []
    for key, value in schema.items():
        at = f"{where}/{key}"
        if key not in ENFORCED | ANNOTATIONS:
            found.append(f"`{key}` at {at}")
        elif key == "format" and value not in FORMATS:
            found.append(f"format {value!r} at {at}")
        elif key == "type":
            kinds = value if isinstance(value, list) else [value]
            found += [f"type {k!r} at {at}" for k in kinds if k not in TYPES]
        elif key == "$ref" and not str(value).startswith("#"):
            found.append(f"remote reference {value!r} at {at}")
        elif key in ("properties", "$defs", "definitions"):
            if not isinstance(value, dict):
                found.append(f"`{key}` that is not an object, at {at}")
                continue
            for name, sub in value.items():
                found += unsupported(sub, f"{at}/{name}")
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") or (
            key == "items" and isinstance(value, list)
        ):
            if not isinstance(value, list):
                found.append(f"`{key}` that is not a list, at {at}")
                continue
            for i, sub in enumerate(value):
                found += unsupported(sub, f"{at}/{i}")
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            found += unsupported(value, at)
    return found


def schema_grammar(schema: dict[str, Any]) -> SchemaGrammar:
    """The grammar for `schema`, or InvalidRequest naming what the grammar cannot enforce."""
    jsonschema = _jsonschema()
    if jsonschema is not None:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            at = "/" + "/".join(str(p) for p in exc.absolute_path)
            raise InvalidRequest(f"The JSON schema is invalid at {at}: {exc.message}") from exc
    problems = unsupported(schema)
    if problems:
        raise InvalidRequest(
            "The JSON schema uses features a grammar cannot enforce: "
            + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            + ". Supported: type, properties, required, additionalProperties, items, "
            "prefixItems, minItems, maxItems, enum, const, anyOf, oneOf, allOf, local $ref, "
            "pattern (^...$), minLength, maxLength, format (date, time, date-time, uuid)."
        )
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # noqa: BLE001 - the converter signals with asserts and bare errors
        raise InvalidRequest(f"The JSON schema cannot be turned into a grammar: {exc}") from exc
    if not re.search(r"^root\s*::=", grammar, re.MULTILINE):
        raise InvalidRequest("The JSON schema produced no grammar (no `root` rule).")
    # The converter's strings admit raw control characters (a literal newline), which JSON
    # forbids inside strings; llama.cpp's newer converter excludes them the same way.
    grammar = grammar.replace(LOOSE_CHAR, STRICT_CHAR)
    if grammar.strip() == JSON_GBNF.strip():
        # What llama-cpp-python's own callers substitute when a conversion fails.
        raise InvalidRequest(
            "The JSON schema came out as the generic 'any JSON' grammar: none of it could be "
            "enforced."
        )
    return SchemaGrammar(schema=schema, grammar=grammar)


def check_output(text: str, schema: dict[str, Any], finish_reason: str, tokens: int) -> Any:
    """The parsed output, or an error: cut off by max tokens, not JSON, or not matching."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if finish_reason == "length":
            raise InvalidRequest(
                f"The output was cut off at {tokens} tokens before the JSON closed; "
                "raise max tokens."
            ) from exc
        raise InvalidRequest(
            f"The output is not valid JSON ({exc.msg}) although a schema grammar was used; "
            "a stop string may have cut it short."
        ) from exc
    jsonschema = _jsonschema()
    if jsonschema is None:  # pragma: no cover - jsonschema ships with streamlit
        return value
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        at = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise InvalidRequest(
            f"The output is JSON but does not match the schema at {at}: {exc.message}"
        ) from exc
    return value


def _jsonschema():
    """The jsonschema package when installed (it comes with Streamlit), else None."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover
        return None
    return jsonschema
