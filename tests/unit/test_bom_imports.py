"""A UTF-8 byte order mark (as Notepad and Excel's "CSV UTF-8" write one) is accepted by every
import (issue 15): it is not part of the first column's name, the first JSON line or the TOML.
The CLI and the pages share these readers; the Benchmarks and Classify uploads go through
them from a temporary copy."""

import codecs
import json

import pytest

from core.app import classify, classify_uploads, runs
from core.app.ladder import uploaded_text
from core.app.scoring import read_text
from core.engine.endpoint_config import load_endpoints
from core.engine.json_schema import load_schema_file
from core.types.classification import DatasetColumns
from tests.support import DATA, run_cli

BOM = codecs.BOM_UTF8


def _with_bom(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(BOM + data)
    return path


@pytest.mark.parametrize("name", ["ours.jsonl", "ours.csv", "fastchat_question.jsonl"])
def test_a_suite_file_with_a_bom_imports_as_without(tmp_path, store, name):
    plain = (DATA / name).read_bytes()
    runs.import_suite(DATA / name, "plain")
    runs.import_suite(_with_bom(tmp_path, name, plain), "bom")
    assert store.suites.questions("bom") == store.suites.questions("plain")
    assert store.suites.questions("bom")  # and they hold questions


def test_a_suite_upload_with_a_bom_imports(store):
    data = (DATA / "ours.csv").read_bytes()
    done = runs.import_upload("ours.csv", BOM + data, "uploaded")
    assert done.questions == len(store.suites.questions("uploaded")) > 0
    first = store.suites.questions("uploaded")[0]
    assert first.text == "What is 7 x 6?" and first.category == "math"


def test_reference_answers_with_a_bom_are_attached(tmp_path, store):
    refs = _with_bom(
        tmp_path,
        "gpt-4.jsonl",
        json.dumps({"question_id": 1, "choices": [{"turns": ["Plan the day."]}]}).encode(),
    )
    done = run_cli(
        "suite", "import", str(DATA / "fastchat_question.jsonl"), "--name", "fc",
        "--references", str(refs),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 question(s) carry a reference answer" in done.stderr


def test_endpoints_toml_with_a_bom_is_read(tmp_path):
    path = _with_bom(
        tmp_path,
        "endpoints.toml",
        b'[[endpoint]]\nname = "local"\nbase_url = "http://127.0.0.1:8080/v1"\nmodel = "m"\n',
    )
    found = load_endpoints(path)
    assert found.problems == ()
    assert [c.name for c in found.configs] == ["local"]


def test_a_json_schema_file_with_a_bom_is_read(tmp_path):
    path = _with_bom(tmp_path, "s.json", b'{"type": "object"}')
    assert load_schema_file(path) == {"type": "object"}


def test_classification_files_with_a_bom_import(tmp_path, store):
    """These already read a BOM; kept here so that every import is checked in one place."""
    table = b"id,title\nt1,hospital beds act\nt2,tax cut act\n"
    columns = DatasetColumns(id="id", text="title")
    stored, _ = classify.import_dataset(_with_bom(tmp_path, "d.csv", table), "d", columns)
    assert stored == 2 and store.datasets.texts("d")[0].id == "t1"
    lines = b'{"id": "t1", "title": "a"}\n{"id": "t2", "title": "b"}\n'
    stored, _ = classify_uploads.import_dataset_upload("d.jsonl", BOM + lines, "j", columns, False)
    assert stored == 2 and store.datasets.texts("j")[0].id == "t1"
    book = (DATA / "cap_major_topics.csv").read_bytes()
    classify.import_codebook(_with_bom(tmp_path, "cap.csv", book), "cap")
    assert store.codebooks.get("cap").labels[0].code == "1"
    labels = [{"code": "H", "name": "Health"}, {"code": "M", "name": "Money"}]
    as_json = json.dumps({"labels": labels}).encode()
    classify.import_codebook(_with_bom(tmp_path, "book.json", as_json), "book")
    assert store.codebooks.get("book").labels[0].name == "Health"


def test_texts_to_measure_with_a_bom_lose_it(tmp_path):
    """perplexity/kld/ladder --file and the Quantization page's upload."""
    assert read_text(_with_bom(tmp_path, "t.txt", b"hello")) == "hello"
    assert uploaded_text(BOM + b"hello", "t.txt") == ("hello", "t.txt")
