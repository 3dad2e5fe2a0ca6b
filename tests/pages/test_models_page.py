"""AppTest for the Models page, with the fake backend for logic and SmolLM2 for the real path."""

import json
import os

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import SMOLLM2, hold_lock


def _generate(at: AppTest, prompt: str, temperature: float = 0.0) -> AppTest:
    at.text_area(key="models_prompt").set_value(prompt)
    at.slider(key="models_temperature").set_value(temperature)
    at.number_input(key="models_max_tokens").set_value(32)
    at.button(key="FormSubmitter:models_try-Generate").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _stored_texts() -> list[str]:
    db = os.environ["PERFICS_DB"]
    if not os.path.exists(db):
        return []
    with duckdb.connect(db, read_only=True) as con:
        return [r[0] for r in con.execute("SELECT text FROM generations").fetchall()]


def test_models_page_lists_models_and_generates_with_fake_backend(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = open_page()
    assert at.title[0].value == "Models"
    names = list(at.dataframe[0].value["name"])
    assert SMOLLM2 in names and "fake-echo" in names
    assert at.selectbox(key="models_model").value == SMOLLM2
    _generate(at, "Why is the sky blue?")
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Completion tokens"]) > 0
    assert any("Why is the sky blue?" in md.value for md in at.markdown)
    assert _stored_texts() and "sky blue" in _stored_texts()[0]


@pytest.mark.real_model
def test_models_page_generates_with_smollm2(open_page):
    at = _generate(open_page(), "What is the capital of France? Answer in one sentence.")
    assert not at.error
    assert any("Paris" in md.value for md in at.markdown)
    assert "Tokens/s" in {m.label for m in at.metric}
    assert any("Paris" in t for t in _stored_texts())


def test_empty_prompt_shows_an_error_and_stores_nothing(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = _generate(open_page(), "   ")
    assert "prompt is empty" in at.error[0].value
    assert not at.metric
    assert _stored_texts() == []


def test_broken_model_files_are_listed_with_reasons(open_page, monkeypatch, models_dir_with_junk):
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(models_dir_with_junk))
    at = open_page()
    table = at.dataframe[0].value.set_index("name")
    assert not table.loc["truncated-body", "usable"]
    assert "file bounds" in table.loc["truncated-body", "reason"]
    assert any("cannot be used" in w.value for w in at.warning)


def test_empty_models_folder_explains_what_to_do(open_page, monkeypatch, tmp_path):
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(tmp_path / "empty"))
    at = open_page()
    assert "No .gguf files found" in at.warning[0].value
    assert not at.dataframe


def test_locked_database_shows_an_error_without_crashing(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setenv("PERFICS_LOCK_TIMEOUT_S", "0.3")
    db = os.environ["PERFICS_DB"]
    os.makedirs(os.path.dirname(db), exist_ok=True)
    duckdb.connect(db).close()
    holder = hold_lock(db, 60)
    try:
        at = _generate(open_page(), "Hello?")
    finally:
        holder.kill()
        holder.wait()
    assert "locked by another process" in at.error[0].value


def test_an_error_clears_the_previous_answer(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = _generate(open_page(), "Name a colour")
    labels = {m.label for m in at.metric}
    assert "Model memory" in labels and "Peak RSS" not in labels  # the model's, not the app's
    at = _generate(at, "   ")
    assert "prompt is empty" in at.error[0].value
    assert not at.metric and not any("colour" in md.value for md in at.markdown)


def _force_json(at: AppTest, schema: str) -> AppTest:
    at.checkbox(key="models_json").check()
    at.text_area(key="models_schema").set_value(schema)
    return at


def test_a_bad_schema_shows_an_error_and_stores_nothing(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = _generate(_force_json(open_page(), '{"type": "object",'), "Describe a person")
    assert "schema is not valid JSON" in at.error[0].value
    at = _generate(_force_json(at, '{"type": "integer", "minimum": 0}'), "How old?")
    assert "`minimum` at /minimum" in at.error[0].value
    assert not at.metric and not at.success
    assert _stored_texts() == []


def test_a_schema_the_fake_can_satisfy_shows_the_parsed_json(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    schema = '{"type": "object", "properties": {"colour": {"enum": ["red", "green"]}}}'
    at = _generate(_force_json(open_page(), schema), "Pick a colour")
    assert not at.error
    assert "matches the schema" in at.success[0].value
    assert at.json[0].value in ('{"colour": "red"}', '{"colour": "green"}')
    assert json.loads(_stored_texts()[0])["colour"] in ("red", "green")


@pytest.mark.real_model
def test_smollm2_forced_to_the_example_schema(open_page):
    at = open_page()
    at.checkbox(key="models_json").check()  # the example schema: name and age
    at.number_input(key="models_max_tokens").set_value(160)
    at.text_area(key="models_prompt").set_value("Give the name and age of a scientist as JSON.")
    at.button(key="FormSubmitter:models_try-Generate").click()
    at.run()
    assert not at.exception and not at.error, at.error
    value = json.loads(_stored_texts()[0])
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    assert json.loads(at.json[0].value) == value
