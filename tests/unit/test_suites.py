"""Question suites: the built-in one, the importers and reference checks."""

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from core.evaluation.code_check import NETWORK_ERROR, CodeCheck, extract_code, run_tests
from core.evaluation.suites import (
    CATEGORIES,
    Question,
    SuiteImportError,
    attach_references,
    builtin_questions,
    check_reference,
    checkable,
    load_file,
    parse_file,
    parse_jsonl,
    parse_references,
)
from tests.support import ROOT, run_cli

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


# --- references first: `tests` and `answer` kinds ------------------------------------------

FASTCHAT = Path("/work/shared/datasets/fastchat")
SOLUTIONS = {
    "reverse-words": "def reverse_words(s):\n    return ' '.join(reversed(s.split()))",
    "is-prime": (
        "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))"
    ),
    "running-max": (
        "def running_max(xs):\n"
        "    out = []\n"
        "    for x in xs:\n"
        "        out.append(x if not out else max(out[-1], x))\n"
        "    return out"
    ),
}


def coding_questions() -> dict[str, Question]:
    questions, errors = parse_file(DATA / "coding_tests.jsonl")
    assert errors == []
    return {q.id: q for q in questions}


def fenced(code: str, lang: str = "python") -> str:
    return f"Here is my solution:\n\n```{lang}\n{code}\n```\n\nIt runs in linear time."


def test_coding_rows_import_with_tests_references():
    questions = coding_questions()
    assert set(questions) == set(SOLUTIONS)
    assert all(q.reference_kind == "tests" and checkable(q) for q in questions.values())
    # An indented block of test code is dedented, not just stripped on its first line.
    assert questions["running-max"].reference.startswith("for xs, expected in")
    assert "\n    assert running_max" in questions["running-max"].reference


@pytest.mark.parametrize("qid", sorted(SOLUTIONS))
def test_a_correct_solution_passes_the_reference_tests(qid):
    assert check_reference(coding_questions()[qid], fenced(SOLUTIONS[qid])) is True


def test_a_wrong_solution_fails_on_its_assertion():
    question = coding_questions()["reverse-words"]
    wrong = "def reverse_words(s):\n    return s[::-1]"
    assert check_reference(question, fenced(wrong)) is False
    result = run_tests(wrong, question.reference)
    assert not result.passed and result.reason.startswith("failed: AssertionError")


def test_an_answer_without_code_fails_as_no_code():
    question = coding_questions()["is-prime"]
    prose = "You check every divisor up to the square root; if none divides n, it is prime."
    assert extract_code(prose) == ""
    assert run_tests(extract_code(prose), question.reference) == CodeCheck(
        False, "no code in the answer"
    )
    assert check_reference(question, prose) is False


def test_extraction_takes_the_last_python_block():
    first = "def reverse_words(s):\n    return s"
    last = SOLUTIONS["reverse-words"]
    answer = fenced(first) + "\nOops, that was wrong. Fixed:\n" + fenced(last, lang="")
    assert extract_code(answer) == last
    assert check_reference(coding_questions()["reverse-words"], answer) is True
    # A later block in another language is not Python to run.
    assert extract_code(fenced(last) + fenced("python solve.py", lang="bash")) == last
    # Without fences, an answer that is Python as a whole is run as it is.
    assert extract_code(last + "\n") == last


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed orphan stays a zombie until init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_an_endless_loop_times_out_and_leaves_no_process(tmp_path):
    pids = tmp_path / "pids"
    code = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "while True:\n"
        "    pass\n"
    )
    started = time.monotonic()
    result = run_tests(code, "assert True", timeout_s=1)
    assert time.monotonic() - started < 5
    assert result == CodeCheck(False, "timed out after 1 s")
    leftover = [int(pid) for pid in pids.read_text().split()]
    assert len(leftover) == 2
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in leftover) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in leftover)


@pytest.mark.parametrize(
    "call",
    [
        "socket.create_connection(('127.0.0.1', 9))",
        "socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "socket.getaddrinfo('localhost', 80)",
    ],
)
def test_the_network_guard_refuses_sockets(call):
    result = run_tests(f"import socket\n{call}", "assert True")
    # Without the guard these calls fail differently (connection refused) or succeed.
    assert not result.passed and NETWORK_ERROR in result.reason, result.reason


def test_answer_references_are_kept_but_not_checked():
    (question,), errors = parse_jsonl(
        '{"id": "a", "category": "writing", "question": "Write a haiku.",'
        ' "reference": "An old silent pond", "reference_kind": "answer"}'
    )
    assert errors == [] and (question.reference_kind, question.tolerance) == ("answer", None)
    assert not checkable(question) and check_reference(question, "An old silent pond") is None
    assert checkable(Question("n", "math", "?", reference="4", reference_kind="numeric"))
    assert not checkable(Question("g", "generic", "?"))


@pytest.mark.parametrize(
    ("bench", "references", "categories", "attached"),
    [
        # MT-bench's question.jsonl carries grading hints for 29 of those 30 questions; the
        # GPT-4 answer replaces them, except the two plain numbers (112: 12000, 119: 280),
        # which stay numeric checks.
        (
            "mt_bench",
            30,
            {"math", "reasoning", "coding"},
            {str(n) for n in range(101, 131)} - {"112", "119"},
        ),
        ("vicuna_bench", 10, {"math", "coding"}, {str(n) for n in range(61, 71)}),
    ],
)
def test_fastchat_gpt4_references_join_their_questions(bench, references, categories, attached):
    folder = FASTCHAT / bench
    questions, errors = parse_file(folder / "question.jsonl")
    assert errors == [] and len(questions) == 80
    text = (folder / "reference_answer" / "gpt-4.jsonl").read_text(encoding="utf-8")
    answers, ref_errors = parse_references(text)
    assert ref_errors == [] and len(answers) == references
    joined, unmatched = attach_references(questions, answers)
    assert unmatched == []
    by_id = {q.id: q for q in joined}
    assert {by_id[qid].category for qid in answers} == categories
    assert {q.id for q in joined if q.id in answers and q.reference == answers[q.id]} == attached
    assert all(by_id[q].reference_kind == "answer" for q in attached)
    first_line = json.loads(text.splitlines()[0])
    qid = str(first_line["question_id"])
    assert answers[qid] == first_line["choices"][0]["turns"][0].strip()
    before = {q.id: q for q in questions}
    assert all(by_id[q].reference == before[q].reference for q in answers if q not in attached)


def test_malformed_reference_lines_are_reported_by_number():
    good = {"question_id": 1, "choices": [{"index": 0, "turns": ["Paris", "Rome"]}]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"question_id": 2, "choices": []}),
        "",
        json.dumps({"choices": [{"turns": ["x"]}]}),
        json.dumps({"question_id": 3, "choices": [{"turns": [""]}]}),
        json.dumps(good),
        "[1, 2]",
    ]
    answers, errors = parse_references("\n".join(lines))
    assert answers == {"1": "Paris"}
    reasons = {e.line: e.reason for e in errors}
    assert set(reasons) == {2, 3, 5, 6, 7, 8}
    assert "not valid JSON" in reasons[2]
    assert "choices" in reasons[3]
    assert "question_id" in reasons[5]
    assert "turns[0]" in reasons[6]
    assert "duplicate question_id '1'" in reasons[7] and "line 1" in reasons[7]
    assert "not a JSON object" in reasons[8]


def test_an_unknown_reference_id_is_reported(tmp_path):
    refs = tmp_path / "gpt-4.jsonl"
    refs.write_text(
        '{"question_id": 2, "choices": [{"turns": ["144"]}]}\n'
        '{"question_id": 999, "choices": [{"turns": ["nobody asked"]}]}\n'
    )
    questions, _ = parse_file(DATA / "fastchat_question.jsonl")
    _, unmatched = attach_references(questions, {"999": "nobody asked"})
    assert [(e.line, e.reason) for e in unmatched] == [
        (1, "reference for unknown question_id '999'")
    ]
    with pytest.raises(SuiteImportError) as err:
        load_file(DATA / "fastchat_question.jsonl", references=refs)
    assert "line 2: in gpt-4.jsonl: reference for unknown question_id '999'" in str(err.value)
    kept, skipped = load_file(DATA / "fastchat_question.jsonl", True, references=refs)
    assert len(kept) == 3 and [e.line for e in skipped] == [2]
    # Question 2 has a reference of its own ("144", numeric) and keeps it.
    assert {q.id: q.reference_kind for q in kept} == {"1": None, "2": "numeric", "3": None}


def test_cli_suite_import_with_references(fake_mode, store, tmp_path):
    folder = FASTCHAT / "vicuna_bench"
    refs = str(folder / "reference_answer" / "gpt-4.jsonl")
    done = run_cli(
        "suite", "import", str(folder / "question.jsonl"), "--name", "vicuna",
        "--references", refs,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "imported 80 questions into suite 'vicuna'" in done.stderr
    assert "10 question(s) carry a reference answer" in done.stderr
    stored = {q.id: q for q in store.suites.questions("vicuna")}
    assert stored["61"].reference_kind == "answer" and stored["61"].reference
    assert sum(q.reference_kind == "answer" for q in stored.values()) == 10
    bad = tmp_path / "refs.jsonl"
    bad.write_text('{"question_id": 61, "choices": [{"turns": ["ok"]}]}\n{oops\n')
    refused = run_cli("suite", "import", str(folder / "question.jsonl"), "--references", str(bad))
    assert refused.returncode == 1 and "line 2: in refs.jsonl: not valid JSON" in refused.stderr
    assert "question" not in store.suites.names()
