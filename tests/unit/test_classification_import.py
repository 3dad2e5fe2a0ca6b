"""Datasets of texts to code: every table format, bad rows by the line the user sees, and the
US Congress development set read as a user would read it."""

import gzip
import json
from collections import Counter

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import PerficsError
from core.evaluation.classification_import import (
    ClassificationImportError,
    load_dataset,
    parse_dataset,
)
from core.evaluation.table_files import columns_of, read_table, sheet_names
from core.types import RowError
from core.types.classification import DatasetColumns, LabelValue, TextRecord
from tests.support import CONGRESS

COLUMNS = DatasetColumns(id="id", text="text", gold="label")


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _parse(path, columns=COLUMNS):
    table, read_errors = read_table(path)
    records, errors = parse_dataset(table, columns)
    return records, read_errors + errors


def test_semicolon_csv_keeps_ids_as_written_and_splits_multi_label_cells(tmp_path):
    path = _write(
        tmp_path / "texts.csv",
        'id;text;label\n007;"Tax cuts; for whom?";economy\n8;Hospitals; health ; economy ;\n',
    )
    # Line 3 is not quoted, so " health ", " economy " and "" are three fields of their own.
    records, errors = _parse(path)
    assert records == [TextRecord("007", "Tax cuts; for whom?", (LabelValue("economy"),))]
    assert errors == [RowError(3, "5 fields but the header has 3")]

    path = _write(tmp_path / "multi.csv", 'id;text;label\n8;Hospitals;" health ; economy ;"\n')
    records, errors = _parse(path)
    assert errors == []
    assert records[0].gold == (LabelValue("health"), LabelValue("economy"))


def test_comma_csv_with_bom_and_a_text_over_two_lines_keeps_file_line_numbers(tmp_path):
    path = _write(
        tmp_path / "texts.csv",
        "\ufeffid,text,label\n"  # line 1
        'a,"first line\nsecond line",x\n'  # lines 2-3
        "\n"  # line 4: blank, skipped
        "b,,x\n"  # line 5: empty text
        ' ,"orphan\ntext",x\n'  # lines 6-7: empty id, reported where the record starts
        "c,  fine  ,\n",  # line 8: no gold
    )
    records, errors = _parse(path)
    assert [r.id for r in records] == ["a", "c"]
    assert records[0].text == "first line\nsecond line"
    assert records[1] == TextRecord("c", "fine", ())
    assert errors == [
        RowError(5, "empty text (column 'text')"),
        RowError(6, "empty id (column 'id')"),
    ]


def test_the_header_overrules_a_delimiter_guessed_from_quoted_texts(tmp_path):
    # csv.Sniffer alone takes ';' here, misled by the quoted words between semicolons.
    path = _write(tmp_path / "t.csv", "id,text\n1,He wrote 'yes'; 'no'; 'maybe'\n2,plain\n")
    records, errors = _parse(path, DatasetColumns("id", "text"))
    assert errors == [] and [r.text for r in records] == ["He wrote 'yes'; 'no'; 'maybe'", "plain"]


def test_tab_separated_and_gzipped_csv(tmp_path):
    content = "id\ttext\tlabel\n1\tA bill, amended\t3\n2\tAnother\t5\n"
    plain = _write(tmp_path / "texts.csv", content)
    zipped = tmp_path / "texts.csv.gz"
    zipped.write_bytes(gzip.compress(content.encode()))
    assert _parse(zipped) == _parse(plain)
    records, errors = _parse(zipped)
    assert errors == [] and [(r.text, r.gold[0].code) for r in records] == [
        ("A bill, amended", "3"),
        ("Another", "5"),
    ]


def test_jsonl_bad_lines_are_row_errors_and_arrays_are_label_lists(tmp_path):
    lines = [
        {"id": 7, "text": "One", "label": ["a", "b"]},  # line 1
        "{not json",  # line 2
        {"id": "8", "text": "Two\u2028lines", "label": "a;c"},  # line 3, a raw U+2028 inside
        "",  # line 4: blank, skipped
        ["a", "list"],  # line 5
        {"id": "9", "text": ["x"], "label": ""},  # line 6: text is a list
        {"id": 7.0, "text": "Three"},  # line 7: id "7.0" as written, no label key
    ]
    body = "\r\n".join(
        x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines
    )
    records, errors = _parse(_write(tmp_path / "texts.jsonl", body))
    assert [(r.id, [g.code for g in r.gold]) for r in records] == [
        ("7", ["a", "b"]),
        ("8", ["a", "c"]),
        ("7.0", []),
    ]
    assert sorted(errors, key=lambda e: e.line) == [
        RowError(2, "not valid JSON (Expecting property name enclosed in double quotes)"),
        RowError(5, "not a JSON object"),
        RowError(6, "text (column 'text') must be one value, not a list"),
    ]


def test_parquet_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 1], pa.int64()),
            "text": ["alpha", None, "gamma", "delta"],
            "label": [["x"], ["y"], ["x", "y"], []],
            # A numeric code column with a gap is stored as floats: read as written by hand.
            "major": pa.array([3.0, None, 21.0, 1.5], pa.float64()),
        }
    )
    path = tmp_path / "texts.parquet"
    pq.write_table(table, path)
    assert read_table(path)[0]["major"].tolist() == ["3", "", "21", "1.5"]
    records, errors = _parse(path)
    assert [(r.id, r.text, len(r.gold)) for r in records] == [("1", "alpha", 1), ("3", "gamma", 2)]
    # Header is row 1: the second record (empty text) is row 3, the repeated id 1 row 5.
    assert errors == [
        RowError(3, "empty text (column 'text')"),
        RowError(5, "duplicate id '1' (first on line 2)"),
    ]


def test_excel_keeps_sheet_row_numbers_numbers_as_text_and_picks_sheets(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "notes"
    sheet["A1"] = "nothing here"
    data = workbook.create_sheet("coded")
    data.append(["id", "text", "label"])  # row 1
    data.append(["007", "Text one", 3])  # row 2: a text id and a numeric label
    data.append([])  # row 3: blank, skipped
    data.append([8, "Text two", 4.0])  # row 4: numbers read as 8 and 4
    data.append([9, "", 4])  # row 5: empty text
    path = tmp_path / "texts.xlsx"
    workbook.save(path)

    assert sheet_names(path) == ["notes", "coded"]
    assert columns_of(path) == ["nothing here"]
    records, errors = load_dataset(path, COLUMNS, skip_invalid=True, sheet="coded")
    assert [(r.id, r.gold[0].code) for r in records] == [("007", "3"), ("8", "4")]
    assert errors == [RowError(5, "empty text (column 'text')")]
    with pytest.raises(PerficsError, match="no sheet 'missing'; its sheets: notes, coded"):
        read_table(path, sheet="missing")


def test_duplicate_ids_name_the_first_line(tmp_path):
    path = _write(tmp_path / "t.csv", "id,text\n1,a\n2,b\n1,c\n 2 ,d\n")
    records, errors = _parse(path, DatasetColumns("id", "text"))
    assert [r.text for r in records] == ["a", "b"]
    assert errors == [
        RowError(4, "duplicate id '1' (first on line 2)"),
        RowError(5, "duplicate id '2' (first on line 3)"),
    ]


def test_intensities_line_up_with_gold_labels(tmp_path):
    path = _write(
        tmp_path / "t.csv",
        "id,text,label,strength\n"
        "1,a,x|y,LOW| High\n"  # line 2: fine, stored lower-case
        "2,b,x|y,low\n"  # line 3: two labels, one intensity
        "3,c,x,extreme\n"  # line 4: not an intensity
        "4,d,x,\n"  # line 5: no intensity given: fine
        "5,e,,medium\n"  # line 6: an intensity without a label
        "6,f,x|x,low|low\n",  # line 7: the same label twice in one cell
    )
    columns = DatasetColumns("id", "text", gold="label", intensity="strength", separator="|")
    records, errors = _parse(path, columns)
    assert [r.gold for r in records] == [
        (LabelValue("x", "low"), LabelValue("y", "high")),
        (LabelValue("x"),),
    ]
    assert errors == [
        RowError(
            3,
            "2 gold label(s) but 1 intensity value(s); give one intensity per label, "
            "separated by '|'",
        ),
        RowError(4, "intensity 'extreme' is not one of low, medium, high"),
        RowError(
            6,
            "0 gold label(s) but 1 intensity value(s); give one intensity per label, "
            "separated by '|'",
        ),
        RowError(7, "gold label 'x' appears twice in one cell"),
    ]


def test_a_missing_column_is_one_error_listing_the_available_columns(tmp_path):
    path = _write(tmp_path / "t.csv", "ID,body,major\n1,a,3\n2,b,4\n")
    records, errors = _parse(path, DatasetColumns("ID", "text", gold="topic"))
    assert records == []
    assert errors == [
        RowError(1, "no column 'text', 'topic'; the file's columns: 'ID', 'body', 'major'")
    ]
    with pytest.raises(ClassificationImportError, match="nothing to keep"):
        load_dataset(path, DatasetColumns("ID", "text"), skip_invalid=True)
    with pytest.raises(PerficsError, match="intensity column needs a gold"):
        parse_dataset(read_table(path)[0], DatasetColumns("ID", "body", intensity="major"))


def test_invalid_rows_refuse_the_file_unless_skipped(tmp_path):
    path = _write(tmp_path / "t.csv", "id,text\n1,a\n2,\n3,c\n3,d\n")
    with pytest.raises(ClassificationImportError) as refused:
        load_dataset(path, DatasetColumns("id", "text"), source="upload.csv")
    assert refused.value.errors == [
        RowError(3, "empty text (column 'text')"),
        RowError(5, "duplicate id '3' (first on line 4)"),
    ]
    assert refused.value.valid == 2
    message = str(refused.value)
    assert message.startswith("upload.csv: 2 invalid row(s), 2 valid; nothing was imported.")
    assert "line 3: empty text" in message and "--skip-invalid" in message

    records, skipped = load_dataset(path, DatasetColumns("id", "text"), skip_invalid=True)
    assert [r.id for r in records] == ["1", "3"]
    assert skipped == refused.value.errors


def test_a_file_with_only_a_header_holds_no_texts(tmp_path):
    path = _write(tmp_path / "t.csv", "id,text\n")
    with pytest.raises(PerficsError, match="holds no texts"):
        load_dataset(path, DatasetColumns("id", "text"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin.csv", "id,text\n1,caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        ("empty.csv", b"", "is empty"),
        ("broken.csv.gz", b"\x1f\x8bnot really gzip", "Cannot read"),
        ("broken.parquet", b"PAR1 not parquet at all", "not a readable Parquet file"),
        ("broken.xlsx", b"not a zip", "not a readable .xlsx workbook"),
        ("old.xls", b"whatever", "save it as .xlsx"),
        ("notes.docx", b"whatever", "unknown table format '.docx'"),
        ("twice.csv", b"id,id\n1,2\n", "names column 'id' twice"),
    ],
)
def test_unreadable_files_are_clear_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PerficsError, match=message) as refused:
        load_dataset(path, DatasetColumns("id", "text"), source=f"my {name}")
    assert name in str(refused.value)


def test_columns_of_every_format(tmp_path):
    _write(tmp_path / "t.csv", "b;a;c\n1;2;3\n")
    _write(tmp_path / "t.jsonl", '{"b": 1, "a": 2}\n{"c": 3, "a": 4}\n')
    pq.write_table(pa.table({"b": [1], "a": ["x"], "c": [None]}), tmp_path / "t.parquet")
    workbook = openpyxl.Workbook()
    workbook.active.append(["b", "a", "c", None])
    workbook.save(tmp_path / "t.xlsx")
    for suffix in ("csv", "jsonl", "parquet", "xlsx"):
        assert columns_of(tmp_path / f"t.{suffix}") == ["b", "a", "c"], suffix


@pytest.mark.skipif(not CONGRESS.exists(), reason="the shared US Congress development set")
def test_us_congress_bills_import_with_their_major_topics():
    assert columns_of(CONGRESS) == ["ID", "cong", "billnum", "h_or_sen", "major", "text"]
    records, errors = load_dataset(CONGRESS, DatasetColumns(id="ID", text="text", gold="major"))
    assert errors == []
    assert len(records) == 4449 and len({r.id for r in records}) == 4449
    counts = Counter(label.code for r in records for label in r.gold)
    # Counts per major code from the data set's README.
    assert (counts["3"], counts["99"], counts["21"], counts["1"]) == (617, 30, 472, 163)
    assert len(counts) == 20 and sum(counts.values()) == 4449
    assert records[0] == TextRecord(
        "1", "To suspend temporarily the duty on Fast Magenta 2 Stage.", (LabelValue("18"),)
    )
