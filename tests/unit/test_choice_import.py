"""Importing multiple-choice questions (JSONL and CSV): choices and the right answer as text,
index or letter; malformed rows listed by line and reason, nothing imported unless asked."""

import pytest

from core.app.cli import main
from core.app.runs import import_suite, suites
from core.evaluation.suites import SuiteImportError, attach_references, parse_csv
from tests.support import DATA


def test_jsonl_choices_round_trip_through_the_store(store):
    done = import_suite(DATA / "mc_simple.jsonl", "mc")
    assert (done.name, done.questions, done.skipped) == ("mc", 18, [])
    questions = {q.id: q for q in store.suites.questions("mc")}
    spider = questions["mc-03"]  # answer "B": the second choice
    assert spider.choices == ("Six", "Eight", "Ten", "Four") and spider.reference == "Eight"
    assert spider.reference_kind == "choice" and spider.category == "knowledge"
    assert questions["mc-02"].reference == "Mercury"  # answer 0: a 0-based index
    assert questions["mc-07"].reference == "4"  # answer_index 1
    row = suites().set_index("name").loc["mc"]
    assert (row.questions, row.multiple_choice, row.with_reference) == (18, 18, 18)
    assert store.suites.questions("builtin")[0].choices == ()  # open questions keep none


def test_csv_choices_by_numbered_columns_letters_or_a_json_list():
    numbered, errors = parse_csv((DATA / "mc_simple.csv").read_text())
    assert errors == []
    assert [(q.choices, q.reference) for q in numbered] == [
        (("Rome", "Oslo", "Lima", "Cairo"), "Rome"),
        (("One", "Two", "Three"), "Two"),  # an empty last column: three choices; "1" is 0-based
        (("Carrot", "Potato", "Apple", "Onion"), "Apple"),  # "C"
    ]
    assert numbered[0].category == "multiple-choice"  # no category column: the default
    letters, errors = parse_csv("question,A,B,C,answer,category\nPick one,x,y,z,C,Misc\n")
    assert errors == [] and letters[0].reference == "z" and letters[0].category == "misc"
    listed, errors = parse_csv('question,choices,answer\nPick,"[""p"", ""q""]",q\n')
    assert errors == [] and listed[0].choices == ("p", "q") and listed[0].reference == "q"


def test_csv_rows_with_bad_choices_are_listed_by_line():
    text = (
        "question,choice_1,choice_2,choice_3,answer\n"
        "Fine,a,b,c,a\n"
        "Gap,a,,c,a\n"
        "Only one,a,,,a\n"
        "Wrong letter,a,b,c,D\n"
    )
    questions, errors = parse_csv(text)
    assert [q.text for q in questions] == ["Fine"]
    assert [(e.line, e.reason) for e in errors] == [
        (3, "choice column 'choice_2' is empty but a later choice is not"),
        (4, "'choices' must be a list of at least two strings"),
        (5, "'answer' 'D' is none of the choices, nor an index 0 to 2 or a letter A to C"),
    ]
    _, errors = parse_csv('question,choices,answer\nBroken,"[oops",a\n')
    assert errors[0].line == 2 and "must be a JSON list" in errors[0].reason


def test_malformed_rows_refuse_the_whole_file_unless_skipped(store):
    with pytest.raises(SuiteImportError) as refused:
        import_suite(DATA / "mc_malformed.jsonl", "bad")
    message = str(refused.value)
    assert "11 invalid row(s), 1 valid; nothing was imported" in message
    for line, reason in [
        (2, "'choices' must be a list of at least two strings"),
        (3, "'answer' is missing"),
        (4, "'answer' 5 is out of range: 0 to 1 for 2 choices"),
        (5, "'answer' 'green' is none of the choices"),
        (6, "'answer' '1' is ambiguous (choice 0 as its text, choice 1 as a 0-based index)"),
        (7, "choices 0 and 1 are the same text 'a'"),
        (8, "'choices' must be a list of at least two strings"),
        (9, "'question' must be a non-empty string"),
        (10, "'answer' names choice 0 but 'answer_index' says 1"),
        (11, "duplicate id 'ok-1'"),
        (12, "not valid JSON"),
    ]:
        assert f"line {line}: {reason}" in message, (line, message)
    assert "bad" not in store.suites.names()
    done = import_suite(DATA / "mc_malformed.jsonl", "bad", skip_invalid=True)
    assert done.questions == 1 and len(done.skipped) == 11
    assert store.suites.questions("bad")[0].choices == ("1", "2")


def test_cli_import_lists_bad_rows_and_exits_with_an_error(capsys):
    assert main(["suite", "import", str(DATA / "mc_malformed.jsonl"), "--name", "bad"]) == 1
    err = capsys.readouterr().err
    assert "line 6: 'answer' '1' is ambiguous" in err and "--skip-invalid" in err
    assert main(["suite", "import", str(DATA / "mc_simple.csv"), "--name", "csv"]) == 0
    assert "imported 3 questions into suite 'csv'" in capsys.readouterr().err


def test_reference_answers_never_replace_a_multiple_choice_answer():
    questions, _ = parse_csv((DATA / "mc_simple.csv").read_text())
    attached, errors = attach_references(questions, {"csv-1": "Rome is the capital."})
    assert errors == [] and attached == questions  # "Rome" stays the right choice
