"""Codebooks: labels from CSV, Excel, JSON (both shapes) or a page, checked label by label
with the line the user sees; hierarchy without unknown parents or loops."""

import json

import openpyxl
import pytest

from core.errors import PerficsError
from core.evaluation.classification_import import ClassificationImportError, load_dataset
from core.evaluation.codebook_import import (
    codebook_from_rows,
    load_codebook,
    parse_codebook,
)
from core.types import RowError
from core.types.classification import CodebookLabel, DatasetColumns
from tests.support import CONGRESS, DATA


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_codebook_with_examples_parents_and_default_codes(tmp_path):
    path = _write(
        tmp_path / "topics.csv",
        "Code,Name,Description,Examples,Parent\n"
        "eco,Economy,Money matters,taxes | budget||,\n"
        "tax,Taxation,,,eco\n"  # parent by code
        ",Inflation,,,economy\n",  # no code: the name is the code; parent by name
    )
    codebook, errors = parse_codebook(path, " topics ")
    assert errors == []
    assert codebook.name == "topics"
    assert codebook.labels == (
        CodebookLabel("eco", "Economy", "Money matters", ("taxes", "budget")),
        CodebookLabel("tax", "Taxation", parent="eco"),
        CodebookLabel("Inflation", "Inflation", parent="eco"),
    )
    assert [label.code for label in codebook.leaves] == ["tax", "Inflation"]


def test_bad_labels_are_listed_by_line(tmp_path):
    path = _write(
        tmp_path / "bad.csv",
        "code,name\n"
        "1,Health\n"  # line 2
        "2,health\n"  # line 3: the same name in another case
        "1,Energy\n"  # line 4: the same code
        '3,"The ""best"" label"\n'  # line 5: a quote would break the grammar
        '4,"Two\nlines"\n'  # lines 6-7: a line break
        f"5,{'x' * 81}\n"  # line 8: too long
        "6,  \n"  # line 9: no name
        "7,Trade\n"  # line 10: fine
        "8,1\n"  # line 11: a name that is another label's code
        "Trade,Commerce\n",  # line 12: a code that is another label's name
    )
    codebook, errors = parse_codebook(path, "bad")
    assert [label.name for label in codebook.labels] == ["Health", "Trade"]
    assert errors == [
        RowError(3, "duplicate name 'health' (first on line 2)"),
        RowError(4, "duplicate code '1' (first on line 2)"),
        RowError(
            5,
            "name 'The \"best\" label' holds a double quote; names go into the answer "
            "grammar, leave it out",
        ),
        RowError(6, "name 'Two\\nlines' must be one line, without tabs or control characters"),
        RowError(8, "name is 81 characters; at most 80"),
        RowError(9, "empty name"),
        RowError(
            11, "name '1' is the code of the label on line 2; a gold value '1' could mean either"
        ),
        RowError(
            12,
            "code 'Trade' is the name of the label on line 10; "
            "a gold value 'Trade' could mean either",
        ),
    ]


def test_parents_must_exist_and_never_loop(tmp_path):
    path = _write(
        tmp_path / "tree.csv",
        "code,name,parent\n"
        "a,A,\n"  # line 2: a root
        "b,B,a\n"  # line 3: fine
        "c,C,zzz\n"  # line 4: unknown parent
        "d,D,d\n"  # line 5: its own parent
        "e,E,f\n"  # line 6: e -> f -> g -> e
        "f,F,g\n"  # line 7
        "g,G,e\n"  # line 8
        "h,H,e\n"  # line 9: under a loop, so rejected too
        "i,I,c\n"  # line 10: under the rejected c
        "j,J,i\n",  # line 11: under the rejected i
    )
    codebook, errors = parse_codebook(path, "tree")
    assert [(label.code, label.parent) for label in codebook.labels] == [("a", None), ("b", "a")]
    assert errors == [
        RowError(4, "parent 'zzz' is no label of this codebook"),
        RowError(5, "a label cannot be its own parent"),
        RowError(6, "parents loop: e → f → g → e"),
        RowError(7, "parents loop: f → g → e → f"),
        RowError(8, "parents loop: g → e → f → g"),
        RowError(9, "parent 'e' (line 6) was rejected"),
        RowError(10, "parent 'c' (line 4) was rejected"),
        RowError(11, "parent 'i' (line 10) was rejected"),
    ]


def test_json_list_of_labels_reports_the_line_each_label_starts_on(tmp_path):
    labels = [
        {"code": 1, "name": "Health", "examples": ["Hospital funding", " "]},
        {"code": 2, "name": 'Bad "name"'},
        "not an object",
        {"code": 3, "name": "Energy", "descripton": "typo"},
        {"code": 4, "name": "Energy", "description": "Oil, gas", "examples": "a|b"},
    ]
    path = _write(tmp_path / "book.json", json.dumps(labels, indent=2))
    # indent=2 puts "[" on line 1 and each object over several lines: hand-counted starts.
    text = path.read_text().splitlines()
    starts = [n for n, line in enumerate(text, start=1) if line in ("  {", '  "not an object",')]
    assert starts == [2, 10, 14, 15, 20]
    codebook, errors = parse_codebook(path, "book")
    assert codebook.labels == (
        CodebookLabel("1", "Health", examples=("Hospital funding",)),
        CodebookLabel("4", "Energy", "Oil, gas", ("a", "b")),
    )
    assert [e.line for e in errors] == [10, 14, 15]
    assert errors[1].reason == "a label must be a JSON object"
    assert errors[2].reason.startswith("unknown key 'descripton'")


def test_json_object_with_instructions_and_labels(tmp_path):
    book = {
        "instructions": " Code the main topic. ",
        "labels": [{"name": "Health"}, {"name": "Energy", "parent": "Health"}, {"name": ""}],
    }
    path = _write(tmp_path / "book.json", json.dumps(book))  # all on one line
    codebook, errors = parse_codebook(path, "book")
    assert codebook.instructions == "Code the main topic."
    assert [(label.code, label.parent) for label in codebook.labels] == [
        ("Health", None),
        ("Energy", "Health"),
    ]
    assert errors == [RowError(1, "empty name")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"labels": [', "not valid JSON"),
        ('{"label": []}', "found key 'label'"),
        ('{"instructions": "x"}', "found no 'labels' list"),
        ('"just text"', "expected a list of labels"),
        ('{"instructions": 3, "labels": []}', "'instructions' must be text"),
    ],
)
def test_json_codebooks_of_the_wrong_shape_are_clear_errors(tmp_path, content, message):
    path = _write(tmp_path / "book.json", content)
    with pytest.raises(PerficsError, match=message):
        parse_codebook(path, "book")


def test_excel_codebook_reads_numeric_codes_as_text(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["code", "name", "examples"])
    workbook.active.append([1, "Health", "clinics|nurses"])
    workbook.active.append([2.0, "Energy", None])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    codebook, errors = load_codebook(path, "book")
    assert errors == []
    assert codebook.labels == (
        CodebookLabel("1", "Health", examples=("clinics", "nurses")),
        CodebookLabel("2", "Energy"),
    )


def test_a_table_without_a_name_column_is_one_error(tmp_path):
    path = _write(tmp_path / "book.csv", "code,label\n1,Health\n")
    codebook, errors = parse_codebook(path, "book")
    assert codebook.labels == ()
    assert errors == [RowError(1, "no column 'name'; the file's columns: 'code', 'label'")]


def test_codebook_from_rows_numbers_rows_from_one_and_skips_blank_ones():
    rows = [
        {"code": "1", "name": "Health", "examples": "a|b"},
        {"code": None, "name": float("nan"), "description": None},  # an editor's blank row
        {"code": "1", "name": "Energy"},
        {"code": "3", "name": "Trade", "parent": "9"},
    ]
    codebook, errors = codebook_from_rows("written", rows, instructions="  Be brief. ")
    assert codebook.labels == (CodebookLabel("1", "Health", examples=("a", "b")),)
    assert codebook.instructions == "Be brief."
    assert errors == [
        RowError(3, "duplicate code '1' (first on line 1)"),
        RowError(4, "parent '9' is no label of this codebook"),
    ]
    with pytest.raises(PerficsError, match="needs a name"):
        codebook_from_rows("  ", rows)


def test_load_refuses_invalid_labels_unless_skipped_and_needs_two_labels(tmp_path):
    path = _write(tmp_path / "book.csv", "code,name\n1,Health\n1,Energy\n2,Trade\n")
    with pytest.raises(ClassificationImportError) as refused:
        load_codebook(path, "book", source="book.csv")
    assert refused.value.errors == [RowError(3, "duplicate code '1' (first on line 2)")]
    assert str(refused.value).startswith("book.csv: 1 invalid row(s), 2 valid;")
    codebook, skipped = load_codebook(path, "book", skip_invalid=True)
    assert codebook.codes == ("1", "2") and skipped == refused.value.errors

    single = _write(tmp_path / "one.csv", "code,name,parent\n1,Health,\n2,Hospitals,1\n")
    with pytest.raises(PerficsError, match="1 label\\(s\\) to code with; .* at least 2"):
        load_codebook(single, "one")


def test_cap_codebook_fixture_resolves_every_us_congress_gold_label():
    codebook, errors = load_codebook(DATA / "cap_major_topics.csv", "CAP major topics")
    assert errors == [] and len(codebook.labels) == 20
    assert codebook.label("2").name == "Civil rights, minority issues, civil liberties"
    assert codebook.resolve("health") == "3" and codebook.resolve("11") is None
    if not CONGRESS.exists():
        pytest.skip("the shared US Congress development set is not here")
    records, _ = load_dataset(CONGRESS, DatasetColumns(id="ID", text="text", gold="major"))
    resolved = {codebook.resolve(label.code) for r in records for label in r.gold}
    assert None not in resolved and resolved == set(codebook.codes)
