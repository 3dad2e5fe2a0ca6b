"""Use case: one answer from one model, stored; optionally forced to match a JSON schema."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.app import context
from core.engine import Backend, OnToken
from core.engine.json_schema import check_output, load_schema, load_schema_file, schema_grammar
from core.errors import InvalidRequest
from core.types import Generation, SamplerSettings

# What the Models page offers to start from.
EXAMPLE_SCHEMA = """{
  "type": "object",
  "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
  "required": ["name", "age"]
}"""


@dataclass(frozen=True)
class GenerateOutcome:
    generation_id: str
    generation: Generation
    # With a schema: the schema, and the output parsed as JSON and validated against it.
    schema: dict[str, Any] | None = None
    value: Any = None


def schema_from_text(text: str, source: str = "The schema") -> dict[str, Any]:
    """A JSON schema typed by a user, checked to convert to a grammar before any model loads."""
    schema = load_schema(text, source)
    schema_grammar(schema)
    return schema


def schema_from_file(path: str) -> dict[str, Any]:
    schema = load_schema_file(path)
    schema_grammar(schema)
    return schema


def generate(
    backend: Backend,
    prompt: str,
    settings: SamplerSettings,
    on_token: OnToken = None,
    raw: bool = False,
    schema: dict[str, Any] | None = None,
) -> GenerateOutcome:
    """Chat (or a raw completion) and store the generation. The store is checked first, so a
    locked or unwritable database fails before any time is spent generating.

    With `schema`, sampling follows the schema's grammar (stored with the generation's
    settings) and the output must parse and validate; if it does not (cut off by max tokens,
    or a schema rule the grammar could not express) an InvalidRequest says why and nothing
    is stored."""
    if schema is not None:
        if settings.grammar:
            raise InvalidRequest("Give either a grammar or a JSON schema, not both.")
        settings = dataclasses.replace(settings, grammar=schema_grammar(schema).grammar)
    store = context.store()
    store.init(write=True)
    if raw:
        gen = backend.complete(prompt, settings, on_token)
    else:
        gen = backend.chat([{"role": "user", "content": prompt}], settings, on_token)
    value = None
    if schema is not None:
        value = check_output(gen.text, schema, gen.finish_reason, gen.completion_tokens)
    store.models.upsert(backend.info)
    return GenerateOutcome(store.generations.save(gen), gen, schema, value)
