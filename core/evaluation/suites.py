"""Question suites: the built-in one and importers for FastChat, MT-bench and our CSV/JSONL.

Every invalid row is reported with its line number and reason; none is dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from importlib import resources
from pathlib import Path

from core.errors import PerficsError
from core.store import Store
from core.types import Question, RowError

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
REFERENCE_KINDS = ("numeric", "magnitude", "contains")


class SuiteImportError(PerficsError):
    def __init__(self, path: str, errors: list[RowError], valid: int):
        self.errors = errors
        listing = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(
            f"{path}: {len(errors)} invalid row(s), {valid} valid; nothing was imported.\n"
            f"{listing}{more}\nFix the rows, or import with --skip-invalid to keep the valid ones."
        )


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{field}' must be a non-empty string")
    return value.strip()


def _question_from_record(rec: dict, line: int) -> Question:
    """Accepts FastChat/MT-bench rows (question_id, category, turns|text) and ours
    (id?, question, category, reference?, reference_kind?, tolerance?)."""
    if not isinstance(rec, dict):
        raise ValueError("row is not a JSON object")
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
    reference = str(reference).strip() if reference not in (None, "") else None
    kind = rec.get("reference_kind") or None
    if reference and not kind:
        kind = "numeric" if _number(reference) is not None else "contains"
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
            parsed.append((line_no, _question_from_record(json.loads(raw), line_no)))
        except json.JSONDecodeError as exc:
            errors.append(RowError(line_no, f"not valid JSON ({exc.msg})"))
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
    return _check_unique(parsed, errors), errors


def parse_csv(text: str) -> tuple[list[Question], list[RowError]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"question", "category"} - set(reader.fieldnames or [])
    if missing:
        return [], [RowError(1, f"header lacks column(s): {', '.join(sorted(missing))}")]
    parsed, errors = [], []
    for row in reader:
        line_no = reader.line_num
        try:
            record = {k: v for k, v in row.items() if k is not None}
            if None in row:
                raise ValueError("more fields than the header has")
            parsed.append((line_no, _question_from_record(record, line_no)))
        except ValueError as exc:
            errors.append(RowError(line_no, str(exc)))
    return _check_unique(parsed, errors), errors


def parse_file(path: Path) -> tuple[list[Question], list[RowError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PerficsError(f"Cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        return parse_csv(text)
    return parse_jsonl(text)


def load_file(path: Path, skip_invalid: bool = False) -> tuple[list[Question], list[RowError]]:
    questions, errors = parse_file(path)
    if errors and not skip_invalid:
        raise SuiteImportError(str(path), errors, len(questions))
    if not questions:
        raise PerficsError(f"{path} holds no valid questions.")
    return questions, errors


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


def check_reference(question: Question, answer: str) -> bool | None:
    """True/False when the question has a checkable reference, else None.
    Numeric kinds look at the last number in the answer, where a final result usually is."""
    if not question.reference or not question.reference_kind:
        return None
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
