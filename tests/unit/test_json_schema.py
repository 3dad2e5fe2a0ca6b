"""Schema-forced output: schema → grammar, every way a schema or an output can be refused, and
the generate use case and CLI on the fake backend (the fake answers enum/const grammars)."""

import json
import os

import duckdb
import pytest
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from core.app.generate import generate, schema_from_file, schema_from_text
from core.engine import json_schema
from core.engine.fake import FakeBackend
from core.engine.grammar_choices import choices
from core.engine.json_schema import check_output, load_schema, schema_grammar, unsupported
from core.errors import InvalidRequest
from core.types import SamplerSettings
from tests.support import run_cli

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
COLOUR = {
    "type": "object",
    "properties": {"colour": {"enum": ["red", "green"]}},
    "required": ["colour"],
}


def _stored() -> list[tuple]:
    db = os.environ["PERFICS_DB"]
    if not os.path.exists(db):
        return []
    with duckdb.connect(db, read_only=True) as con:
        return con.execute("SELECT text, grammar FROM generations").fetchall()


def test_a_schema_becomes_the_grammar_of_its_objects():
    grammar = schema_grammar(PERSON).grammar
    assert 'root ::= "{" space name-kv "," space age-kv "}" space' in grammar
    assert "integer ::=" in grammar and grammar != JSON_GBNF


def test_strings_exclude_raw_control_characters_which_json_forbids():
    # The converter's strings allow a literal newline; json.loads rejects one in a string.
    assert json_schema.LOOSE_CHAR in json_schema_to_gbnf(json.dumps(PERSON))
    grammar = schema_grammar(PERSON).grammar
    assert json_schema.LOOSE_CHAR not in grammar
    assert r'char ::= [^"\\\x7F\x00-\x1F] | ' in grammar
    with pytest.raises(json.JSONDecodeError, match="Invalid control character"):
        json.loads('{"name": "a\nb"}')


def test_not_json_and_not_an_object_are_refused_with_where():
    with pytest.raises(InvalidRequest, match=r"not valid JSON: .* line 1 column 5"):
        load_schema('{"a"')
    for text, kind in (("[1, 2]", "list"), ('"x"', "str"), ("3", "int")):
        with pytest.raises(InvalidRequest, match=f"must be a JSON object.*not {kind}"):
            load_schema(text)


def test_schema_files_missing_or_malformed_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidRequest, match=r"schema file .*bad\.json is not valid JSON"):
        schema_from_file(str(bad))
    with pytest.raises(InvalidRequest, match=r"Cannot read the schema file .*missing\.json"):
        schema_from_file(str(tmp_path / "missing.json"))
    good = tmp_path / "person.json"
    good.write_text(json.dumps(PERSON))
    assert schema_from_file(str(good)) == PERSON


def test_keywords_the_converter_silently_drops_are_refused():
    # The trap: llama-cpp-python's converter accepts these and forgets the constraint.
    dropped = {"type": "integer", "minimum": 3}
    assert "3" not in json_schema_to_gbnf(json.dumps(dropped))
    with pytest.raises(InvalidRequest, match=r"`minimum` at /minimum"):
        schema_grammar(dropped)
    nested = {
        "type": "object",
        "properties": {
            "site": {"type": "string", "format": "uri"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
    }
    assert unsupported(nested) == [
        "format 'uri' at /properties/site/format",
        "`uniqueItems` at /properties/tags/uniqueItems",
    ]
    with pytest.raises(InvalidRequest, match="cannot enforce: format 'uri'.*Supported: type"):
        schema_grammar(nested)
    assert unsupported({"not": {"type": "null"}, "$ref": "http://x/y"}) == [
        "`not` at /not",
        "remote reference 'http://x/y' at /$ref",
    ]


def test_converter_failures_surface_instead_of_falling_back_to_any_json():
    with pytest.raises(
        InvalidRequest, match=r"cannot be turned into a grammar: Pattern must start"
    ):
        schema_grammar({"type": "string", "pattern": "[a-z]+"})
    with pytest.raises(InvalidRequest, match="cannot be turned into a grammar: Error resolving"):
        schema_grammar({"$ref": "#/$defs/missing"})
    with pytest.raises(InvalidRequest, match=r"schema is invalid at /minLength"):
        schema_grammar({"type": "string", "minLength": "x"})


def test_a_generic_json_grammar_is_detected(monkeypatch):
    """Should the converter ever hand back llama-cpp-python's fallback, it is an error."""
    import llama_cpp.llama_grammar as lg

    monkeypatch.setattr(lg, "json_schema_to_gbnf", lambda text: JSON_GBNF)
    with pytest.raises(InvalidRequest, match="generic 'any JSON' grammar"):
        json_schema.schema_grammar(PERSON)


def test_outputs_are_checked_cut_off_not_json_and_not_matching():
    assert check_output('{"name": "Al", "age": 3}', PERSON, "stop", 12) == {"name": "Al", "age": 3}
    with pytest.raises(InvalidRequest, match="cut off at 5 tokens before the JSON closed; raise"):
        check_output('{"name": "A', PERSON, "length", 5)
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        check_output('{"name": "A', PERSON, "stop", 5)
    with pytest.raises(InvalidRequest, match=r"does not match the schema at /age: 'x' is not"):
        check_output('{"name": "Al", "age": "x"}', PERSON, "stop", 9)


def test_the_fake_answers_enum_grammars_with_optional_whitespace():
    assert choices('root ::= "a" " "? "b"') == ["ab", "a b"]
    assert choices('root ::= "a" [0-9]+') is None  # repetition is still not enumerated
    answers = set(choices(schema_grammar(COLOUR).grammar))
    assert {json.loads(a)["colour"] for a in answers} == {"red", "green"}


def test_generate_with_a_schema_stores_the_grammar_and_the_parsed_value():
    backend = FakeBackend()
    outcome = generate(backend, "Pick a colour", SamplerSettings(seed=3), schema=COLOUR)
    assert outcome.value in ({"colour": "red"}, {"colour": "green"})
    assert outcome.schema == COLOUR
    assert outcome.generation.settings.grammar == schema_grammar(COLOUR).grammar
    assert _stored() == [(outcome.generation.text, schema_grammar(COLOUR).grammar)]


def test_generate_refuses_unforced_output_and_stores_nothing():
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        generate(FakeBackend(responses=["no json here"]), "Q", SamplerSettings(), schema=PERSON)
    cut = FakeBackend(responses=['{"name": "a very long name indeed"'])
    with pytest.raises(InvalidRequest, match="cut off at 3 tokens before the JSON closed"):
        generate(cut, "Q", SamplerSettings(max_tokens=3), schema=PERSON)
    with pytest.raises(InvalidRequest, match="either a grammar or a JSON schema"):
        generate(FakeBackend(), "Q", SamplerSettings(grammar='root ::= "x"'), schema=PERSON)
    with pytest.raises(InvalidRequest, match="`minimum`"):
        schema_from_text('{"type": "integer", "minimum": 0}')
    assert _stored() == []


def test_cli_schema_errors_exit_with_a_message_not_a_traceback(tmp_path):
    fake = {"PERFICS_BACKEND": "fake"}
    base = ["generate", "--model", "fake", "--prompt", "Pick a colour", "--json"]
    bad = tmp_path / "bad.json"
    bad.write_text("[1,")
    done = run_cli(*base, "--schema", str(bad), env=fake)
    assert done.returncode == 1
    assert "is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    unsupported_file = tmp_path / "min.json"
    unsupported_file.write_text('{"type": "integer", "minimum": 0}')
    done = run_cli(*base, "--schema", str(unsupported_file), env=fake)
    assert done.returncode == 1 and "`minimum` at /minimum" in done.stderr
    good = tmp_path / "colour.json"
    good.write_text(json.dumps(COLOUR))
    done = run_cli(*base, "--schema", str(good), env=fake)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["value"] == json.loads(record["text"])
    assert record["settings"]["grammar"] == schema_grammar(COLOUR).grammar
