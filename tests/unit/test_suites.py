"""Question suites: the built-in one, the importers and reference checks."""

from collections import Counter

import pytest

from core.evaluation.suites import (
    CATEGORIES,
    Question,
    SuiteImportError,
    builtin_questions,
    check_reference,
    load_file,
    parse_file,
)
from tests.support import ROOT

DATA = ROOT / "tests" / "data"


def test_builtin_suite_covers_the_nine_categories_with_references():
    questions = builtin_questions()
    assert len(questions) >= 80
    per_category = Counter(q.category for q in questions)
    assert set(per_category) == set(CATEGORIES)
    assert min(per_category.values()) >= 8
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        if q.category in ("math", "fermi", "coding"):
            assert q.reference and q.reference_kind, q.id
            # A correct answer ending in the reference passes its own check.
            assert check_reference(q, f"So the answer is {q.reference}"), q.id
        else:
            assert q.reference is None, q.id


def test_fastchat_format_with_turns_or_text():
    questions, errors = parse_file(DATA / "fastchat_question.jsonl")
    assert errors == []
    assert [(q.id, q.category) for q in questions] == [
        ("1", "generic"),
        ("2", "math"),
        ("3", "knowledge"),
    ]
    assert questions[1].text == "What is 12 times 12?"
    assert (questions[1].reference, questions[1].reference_kind) == ("144", "numeric")


def test_mtbench_uses_the_first_turn_and_keeps_the_rest():
    questions, errors = parse_file(DATA / "mtbench_question.jsonl")
    assert errors == []
    note, square = questions
    assert note.text == "Write a short note thanking a colleague."
    assert note.turns == ("Now rewrite it as a limerick.",)
    assert (square.reference, square.turns) == ("9", ("And its perimeter?",))


def test_our_csv_and_jsonl():
    questions, errors = parse_file(DATA / "ours.csv")
    assert errors == []
    assert [(q.text, q.category, q.reference) for q in questions] == [
        ("What is 7 x 6?", "math", "42"),
        ("Name a primary colour.", "knowledge", None),
    ]
    (question,), errors = parse_file(DATA / "ours.jsonl")
    assert errors == [] and question.category == "generic"


def test_malformed_jsonl_rows_are_reported_by_line_with_reasons():
    questions, errors = parse_file(DATA / "malformed.jsonl")
    assert [q.id for q in questions] == ["1"]
    reasons = {e.line: e.reason for e in errors}
    assert set(reasons) == {2, 3, 4, 6, 7, 8, 9}  # line 5 is blank and skipped
    assert "turns" in reasons[2]
    assert "not valid JSON" in reasons[3]
    assert "category" in reasons[4]
    assert "duplicate id '1'" in reasons[6] and "line 1" in reasons[6]
    assert "reference_kind" in reasons[7]
    assert "not a JSON object" in reasons[8]
    assert "tolerance" in reasons[9]


def test_malformed_csv_rows_are_reported():
    _, errors = parse_file(DATA / "malformed.csv")
    reasons = {e.line: e.reason for e in errors}
    assert set(reasons) == {3, 4, 5}
    assert "question" in reasons[3] and "more fields" in reasons[4] and "category" in reasons[5]


def test_strict_import_refuses_and_lists_every_bad_row(tmp_path):
    with pytest.raises(SuiteImportError) as err:
        load_file(DATA / "malformed.jsonl")
    message = str(err.value)
    assert "7 invalid row(s), 1 valid; nothing was imported" in message
    assert "line 3: not valid JSON" in message
    questions, skipped = load_file(DATA / "malformed.jsonl", skip_invalid=True)
    assert len(questions) == 1 and len(skipped) == 7
    missing_column = tmp_path / "bad.csv"
    missing_column.write_text("prompt,category\nhi,generic\n")
    with pytest.raises(SuiteImportError, match="header lacks column"):
        load_file(missing_column)


@pytest.mark.parametrize(
    ("kind", "reference", "tolerance", "answer", "expected"),
    [
        ("numeric", "144", 0.01, "12 x 12 = 144.", True),
        ("numeric", "144", 0.01, "It is 1,440? No wait: 150", False),
        ("numeric", "3.5", 0.01, "The mean is 3.5", True),
        ("numeric", "0", 0.01, "zero, i.e. 0", True),
        ("numeric", "42", 0.01, "I cannot say", False),
        ("magnitude", "31536000", 1.0, "About 30,000,000 seconds", True),
        ("magnitude", "31536000", 1.0, "About 86400", False),
        ("contains", "[3, 2, 1]", None, "It prints [3,  2, 1] in the end", True),
        ("contains", "kramhcneb", None, "It prints benchmark", False),
    ],
)
def test_reference_checks(kind, reference, tolerance, answer, expected):
    q = Question("q", "math", "?", reference=reference, reference_kind=kind, tolerance=tolerance)
    assert check_reference(q, answer) is expected


def test_no_reference_means_no_check():
    assert check_reference(Question("q", "generic", "?"), "anything") is None
