"""Schema-forced output on SmolLM2: greedy and sampled outputs parse and validate, through
the use case and through `perfics generate --schema`."""

import json
import os

import duckdb
import jsonschema
import pytest

from core.app.generate import generate
from core.engine.json_schema import schema_grammar
from core.errors import InvalidRequest
from core.types import SamplerSettings
from tests.support import SMOLLM2, run_cli

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
PROMPT = "Give the name and age of a famous scientist as JSON."


def _forced(backend, temperature: float, seed: int):
    settings = SamplerSettings(temperature=temperature, seed=seed, max_tokens=160)
    return generate(backend, PROMPT, settings, schema=PERSON)


@pytest.mark.parametrize(("temperature", "seed"), [(0.0, 7), (1.0, 1), (1.0, 2), (1.0, 3)])
def test_smollm2_output_parses_and_validates(smollm2, temperature, seed):
    outcome = _forced(smollm2, temperature, seed)
    value = json.loads(outcome.generation.text)
    jsonschema.validate(value, PERSON)
    assert value == outcome.value
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    assert outcome.generation.finish_reason == "stop"
    assert outcome.generation.settings.grammar == schema_grammar(PERSON).grammar


def test_greedy_schema_output_repeats(smollm2):
    assert _forced(smollm2, 0.0, 7).value == _forced(smollm2, 0.0, 11).value


def test_too_few_tokens_is_reported_as_a_cut_off(smollm2):
    settings = SamplerSettings(temperature=0.0, max_tokens=4)
    with pytest.raises(InvalidRequest, match="cut off at 4 tokens before the JSON closed"):
        generate(smollm2, PROMPT, settings, schema=PERSON)


def test_cli_generate_with_a_schema_prints_and_stores_valid_json(tmp_path):
    schema_file = tmp_path / "person.json"
    schema_file.write_text(json.dumps(PERSON))
    done = run_cli(
        "generate", "--model", SMOLLM2, "--prompt", PROMPT, "--schema", str(schema_file),
        "--temperature", "0", "--seed", "7", "--max-tokens", "160", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    jsonschema.validate(json.loads(record["text"]), PERSON)
    assert record["value"] == json.loads(record["text"])
    with duckdb.connect(os.environ["PERFICS_DB"], read_only=True) as con:
        stored = con.execute("SELECT id, text, grammar FROM generations").fetchall()
    assert stored == [(record["id"], record["text"], schema_grammar(PERSON).grammar)]
