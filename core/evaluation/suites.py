"""Question suites: the built-in one and importers for FastChat, MT-bench and our CSV/JSONL.

Every invalid row is reported with its line number and reason; none is dropped silently.
A question's reference is either checked mechanically (numeric, magnitude, contains, tests)
or, as an `answer`, only shown to the judge. Rows with `choices` are multiple-choice
questions (choice_suites.py), scored by likelihood rather than answered.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import textwrap
from importlib import resources
from pathlib import Path

from core.errors import PerficsError
from core.evaluation.choice_suites import (
    choice_question,
    csv_choice_record,
    is_choice_header,
    is_choice_record,
)
from core.evaluation.code_check import extract_code, run_tests
from core.evaluation.import_refusal import ImportRefused
from core.store import Store
from core.types import Question, RowError
from core.types.text import decode_utf8, json_loads_text

BUILTIN_SUITE = "builtin"
CATEGORIES = (
    "generic",
    "knowledge",
    "roleplay",
    "common-sense",
    "fermi",
    "counterfactual",
    "coding",
    "math",
    "writing",
)
CHECKABLE_KINDS = ("numeric", "magnitude", "contains", "tests")
# `tests`: Python test code the answer's code must pass. `answer`: a reference answer (such
# as FastChat's GPT-4 ones) that no rule can compare with, so only the judge reads it.
REFERENCE_KINDS = (*CHECKABLE_KINDS, "answer")


class SuiteImportError(ImportRefused):
    """A question file with invalid rows, refused whole (the rows listed, then how to go on)."""


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{field}' must be a non-empty string")
    return value.strip()


def _question_from_record(rec: dict, line: int) -> Question:
    """Accepts FastChat/MT-bench rows (question_id, category, turns|text) and ours
    (id?, question, category, reference?, reference_kind?, tolerance?)."""
    if not isinstance(rec, dict):
        raise ValueError("row is not a JSON object")
    if is_choice_record(rec):  # multiple choice: see choice_suites.py
        return choice_question(rec, line)
    if "turns" in rec:
        turns = rec["turns"]
        if not isinstance(turns, list) or not turns:
            raise ValueError("'turns' must be a non-empty list of strings")
        turns = tuple(_text(t, "turns[]") for t in turns)
    elif "text" in rec:
        turns = (_text(rec["text"], "text"),)
    elif "question" in rec:
        turns = (_text(rec["question"], "question"),)
    else:
        raise ValueError("no question: expected 'turns', 'text' or 'question'")
    category = _text(rec.get("category"), "category").lower()
    qid = rec.get("question_id", rec.get("id"))
    qid = str(qid).strip() if qid not in (None, "") else f"q{line}"
    reference = rec.get("reference")
    if isinstance(reference, list):  # MT-bench keeps one reference per turn
        reference = reference[0] if reference else None
    kind = rec.get("reference_kind") or None
    if kind == "tests" and isinstance(reference, str):
        reference = textwrap.dedent(reference)  # strip() alone would break indented code
    reference = str(reference).strip() if reference not in (None, "") else None
    if reference and not kind:
        # MT-bench's own references are grading hints ("You are in second place."), not
        # strings an answer contains: the judge reads them. Ours default to "contains".
        fallback = "answer" if "turns" in rec else "contains"
        kind = "numeric" if _number(reference) is not None else fallback
    if kind and kind not in REFERENCE_KINDS:
        raise ValueError(f"reference_kind must be one of {', '.join(REFERENCE_KINDS)}")
    if kind and not reference:
        raise ValueError("reference_kind given without a reference")
    tolerance = rec.get("tolerance")
    if tolerance in (None, ""):
        tolerance = {"numeric": 0.01, "magnitude": 1.0}.get(kind) if kind else None
    else:
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError):
            raise ValueError("tolerance must be a number") from None
    return Question(qid, category, turns[0], turns[1:], reference, kind, tolerance)


def _check_unique(questions: list[tuple[int, Question]], errors: list[RowError]) -> list[Question]:
    seen: dict[str, int] = {}
    kept = []
    for line, q in questions:
        if q.id in seen:
            errors.append(RowError(line, f"duplicate id {q.id!r} (first on line {seen[q.id]})"))
        else:
            seen[q.id] = line
            kept.append(q)
    return kept


def parse_jsonl(text: str) -> tuple[list[Question], list[RowError]]:
    parsed, errors = [], []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            parsed.append((line_no, _question_from_record(json_loads_text(raw), line_no)))
        except json.JSONDecodeError as exc:
            errors.append(RowError(line_no, f"not valid JSON ({exc.msg})"))
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
    return _check_unique(parsed, errors), errors


def parse_csv(text: str) -> tuple[list[Question], list[RowError]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = list(reader.fieldnames or [])
    missing = ({"question"} if is_choice_header(fields) else {"question", "category"}) - set(fields)
    if missing:
        return [], [RowError(1, f"header lacks column(s): {', '.join(sorted(missing))}")]
    parsed, errors = [], []
    for row in reader:
        line_no = reader.line_num
        try:
            record = {k: v for k, v in row.items() if k is not None}
            if None in row:
                raise ValueError("more fields than the header has")
            record = csv_choice_record(record)
            parsed.append((line_no, _question_from_record(record, line_no)))
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
    return _check_unique(parsed, errors), errors


def _read_utf8(path: Path, source: str | None = None) -> str:
    """The file's text; a byte order mark is not part of it (see decode_utf8)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PerficsError(f"Cannot read {source or path}: {exc.strerror or exc}") from exc
    return decode_utf8(data, f"{source or path}")


def parse_file(path: Path, source: str | None = None) -> tuple[list[Question], list[RowError]]:
    """`source`: the name to show for the file in messages (default: its path)."""
    text = _read_utf8(path, source)
    if path.suffix.lower() == ".csv":
        return parse_csv(text)
    return parse_jsonl(text)


def load_file(
    path: Path,
    skip_invalid: bool = False,
    references: Path | None = None,
    source: str | None = None,
) -> tuple[list[Question], list[RowError]]:
    """The questions of `path`, with the reference answers of `references` (FastChat's
    `reference_answer/gpt-4.jsonl` layout) attached. Errors in either file refuse the whole
    import unless `skip_invalid`; a reference file's errors are then listed with its name.
    `source`: the name messages give `path` (an upload's own name, not its temporary copy)."""
    questions, errors = parse_file(path, source)
    if references is not None:
        text = _read_utf8(references)
        found, ref_errors = _read_references(text)
        answers = {qid: answer for qid, (_, answer) in found.items()}
        lines = {qid: line for qid, (line, _) in found.items()}
        questions, unmatched = attach_references(questions, answers, lines)
        ref_errors = sorted(ref_errors + unmatched, key=lambda e: e.line)
        errors = errors + [
            RowError(e.line, f"in {references.name}: {e.reason}") for e in ref_errors
        ]
    if errors and not skip_invalid:
        raise SuiteImportError(source or str(path), errors, len(questions))
    if not questions:
        raise PerficsError(f"{source or path} holds no valid questions.")
    return questions, errors


def parse_references(text: str) -> tuple[dict[str, str], list[RowError]]:
    """FastChat reference answers, one JSON object a line: question id -> first-turn answer
    (the first choice's first turn, since a suite question is the first turn)."""
    found, errors = _read_references(text)
    return {qid: answer for qid, (_, answer) in found.items()}, errors


def _read_references(text: str) -> tuple[dict[str, tuple[int, str]], list[RowError]]:
    """Question id -> (line, answer), so an unmatched id can be reported by its line."""
    found: dict[str, tuple[int, str]] = {}
    errors = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            qid, answer = _reference_from_record(json_loads_text(raw))
        except json.JSONDecodeError as exc:
            errors.append(RowError(line_no, f"not valid JSON ({exc.msg})"))
            continue
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
            continue
        if qid in found:
            first = found[qid][0]
            errors.append(
                RowError(line_no, f"duplicate question_id {qid!r} (first on line {first})")
            )
        else:
            found[qid] = (line_no, answer)
    return found, errors


def _reference_from_record(rec) -> tuple[str, str]:
    if not isinstance(rec, dict):
        raise ValueError("row is not a JSON object")
    qid = rec.get("question_id")
    if qid in (None, "") or isinstance(qid, (bool, dict, list)):
        raise ValueError("'question_id' is missing")
    choices = rec.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("'choices' must be a non-empty list of objects")
    turns = choices[0].get("turns")
    if not isinstance(turns, list) or not turns:
        raise ValueError("'choices[0].turns' must be a non-empty list of strings")
    return str(qid).strip(), _text(turns[0], "choices[0].turns[0]")


def attach_references(
    questions: list[Question], references: dict[str, str], lines: dict[str, int] | None = None
) -> tuple[list[Question], list[RowError]]:
    """Each question gains its reference answer (kind `answer`) unless it has a checkable
    reference already or is multiple choice; a reference answer replaces a mere grading hint.
    A reference whose id matches no question is an error, reported on its line in `lines`
    when given, else on its position in `references` (counting from 1)."""
    known = {q.id for q in questions}
    errors = [
        RowError((lines or {}).get(qid, position), f"reference for unknown question_id {qid!r}")
        for position, qid in enumerate(references, start=1)
        if qid not in known
    ]
    attached = [
        dataclasses.replace(q, reference=references[q.id], reference_kind="answer", tolerance=None)
        if q.id in references and not checkable(q) and not q.choices
        else q
        for q in questions
    ]
    return attached, errors


def builtin_questions() -> list[Question]:
    text = resources.files("core").joinpath("data/builtin_suite.jsonl").read_text("utf-8")
    questions, errors = parse_jsonl(text)
    assert not errors, errors  # the shipped suite is checked by the tests
    return questions


# --- reference checks ------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def numbers_in(text: str) -> list[float]:
    values = []
    for match in _NUMBER.findall(text):
        value = _number(match)
        if value is not None:
            values.append(value)
    return values


def checkable(question: Question) -> bool:
    """Whether check_reference can judge an answer to this question right or wrong."""
    return bool(question.reference) and question.reference_kind in CHECKABLE_KINDS


def reference_answer(question: Question) -> str | None:
    """A reference answer for the judge to grade against (MT-bench's reference-guided
    grading), for questions whose reference cannot be checked mechanically."""
    return question.reference if question.reference_kind == "answer" else None


def check_reference(question: Question, answer: str) -> bool | None:
    """True/False when the question has a checkable reference, else None.
    Numeric kinds look at the last number in the answer, where a final result usually is;
    `tests` runs the answer's code against the reference tests (see code_check)."""
    if not checkable(question):
        return None
    if question.reference_kind == "tests":
        return run_tests(extract_code(answer), question.reference).passed
    if question.reference_kind == "contains":
        squash = lambda s: " ".join(s.lower().split())  # noqa: E731
        return squash(question.reference) in squash(answer)
    target = _number(question.reference)
    found = numbers_in(answer)
    if target is None or not found:
        return False
    value = found[-1]
    if question.reference_kind == "numeric":
        tol = question.tolerance if question.tolerance is not None else 0.01
        return math.isclose(value, target, rel_tol=tol, abs_tol=tol if target == 0 else 0.0)
    if value <= 0 or target <= 0:
        return False
    tol = question.tolerance if question.tolerance is not None else 1.0
    return abs(math.log10(value) - math.log10(target)) <= tol


def ensure_builtin_suite(store: Store) -> None:
    """Store the built-in suite on first use, so every fresh database can run a benchmark."""
    if BUILTIN_SUITE not in store.suites.names():
        store.suites.save(BUILTIN_SUITE, "built-in (PeRFICS Studio)", builtin_questions())
