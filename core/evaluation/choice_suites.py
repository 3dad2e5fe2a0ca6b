"""Multiple-choice questions: a question, its choices and which one is right, the shape
lm-evaluation-harness scores by likelihood (core/evaluation/likelihood.py).

They come in through the same importers as open questions (suites.py): a JSONL row with a
`choices` list, or a CSV row with a `choices` column holding a JSON list, or one column per
choice (`choice_1`, `choice_2`, … or `A`, `B`, …). `answer` is the right choice's text, its
0-based index, or its letter (A = the first); `answer_index` is the index alone. An answer
that two of these readings would put on different choices is refused as ambiguous.
"""

from __future__ import annotations

import json
import re

from core.types import Question

CHOICE_KIND = "choice"  # reference_kind of a multiple-choice question: its right choice's text
DEFAULT_CATEGORY = "multiple-choice"
MAX_CHOICES = 26  # one letter each
_NUMBERED = re.compile(r"choice_(\d+)")
_LETTERS = [chr(ord("A") + i) for i in range(MAX_CHOICES)]


def is_choice_record(rec: dict) -> bool:
    return "choices" in rec


def _choice_columns(fields: list[str]) -> list[str]:
    """The CSV columns that hold one choice each, in order (empty when there are none)."""
    numbered = sorted((int(m[1]), f) for f in fields if (m := _NUMBERED.fullmatch(f)))
    if numbered:
        return [f for _, f in numbered]
    letters = [f for f in _LETTERS if f in fields]
    return letters if len(letters) >= 2 else []


def is_choice_header(fields: list[str]) -> bool:
    """A CSV header of multiple-choice rows (their category is optional)."""
    return "choices" in fields or bool(_choice_columns(fields))


def csv_choice_record(row: dict[str, str]) -> dict:
    """A CSV row with its choices gathered into a `choices` list, as a JSONL row has them;
    other rows are returned as they are. A choice column left empty ends the list, so rows
    may have fewer choices than the header; a choice after a gap is an error."""
    fields = list(row)
    if "choices" in row:
        try:
            choices = json.loads(row["choices"] or "")
        except json.JSONDecodeError:
            raise ValueError('\'choices\' must be a JSON list, e.g. ["red", "blue"]') from None
        return {**row, "choices": choices}
    columns = _choice_columns(fields)
    if not columns:
        return row
    cells = [(row.get(c) or "").strip() for c in columns]
    filled = len(cells)
    while filled and not cells[filled - 1]:
        filled -= 1
    if not all(cells[:filled]):
        gap = columns[cells.index("")]
        raise ValueError(f"choice column {gap!r} is empty but a later choice is not")
    rest = {k: v for k, v in row.items() if k not in columns}
    return {**rest, "choices": cells[:filled]}


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{field}' must be a non-empty string")
    return value.strip()


def _choices(value) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise ValueError("'choices' must be a list of at least two strings")
    if len(value) > MAX_CHOICES:
        raise ValueError(f"at most {MAX_CHOICES} choices, got {len(value)}")
    choices = tuple(_text(c, "choices[]") for c in value)
    seen: dict[str, int] = {}
    for i, c in enumerate(choices):
        if c in seen:
            raise ValueError(f"choices {seen[c]} and {i} are the same text {c!r}")
        seen[c] = i
    return choices


def _index(value, n: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"'{field}' must be a 0-based index")
    text = str(value).strip()
    if not text.isdecimal() or not text.isascii():
        raise ValueError(f"'{field}' must be a 0-based index, got {value!r}")
    if int(text) >= n:
        raise ValueError(f"'{field}' {int(text)} is out of range: 0 to {n - 1} for {n} choices")
    return int(text)


def gold_index(answer, choices: tuple[str, ...]) -> int:
    """Which choice `answer` names: a JSON integer is a 0-based index; a string is a choice's
    text, else a 0-based index in digits, else a letter (A = 0). Readings that disagree are
    refused as ambiguous rather than guessed."""
    n = len(choices)
    if answer is None or answer == "":
        raise ValueError("'answer' is missing: give the right choice's text, index or letter")
    if isinstance(answer, int) and not isinstance(answer, bool):
        return _index(answer, n, "answer")
    if not isinstance(answer, str):
        raise ValueError("'answer' must be the right choice's text, its 0-based index or letter")
    text = answer.strip()
    readings: dict[int, str] = {}
    if text in choices:
        readings.setdefault(choices.index(text), "its text")
    if text.isdecimal() and text.isascii() and int(text) < n:
        readings.setdefault(int(text), "a 0-based index")
    if len(text) == 1 and text in _LETTERS[:n]:
        readings.setdefault(_LETTERS.index(text), "a letter")
    if not readings:
        raise ValueError(
            f"'answer' {text!r} is none of the choices, nor an index 0 to {n - 1} or a letter "
            f"A to {_LETTERS[n - 1]}"
        )
    if len(readings) > 1:
        options = ", ".join(f"choice {i} as {how}" for i, how in sorted(readings.items()))
        raise ValueError(f"'answer' {text!r} is ambiguous ({options}); give 'answer_index' instead")
    return next(iter(readings))


def choice_question(rec: dict, line: int) -> Question:
    """A multiple-choice row (question|text, choices, answer|answer_index, category?, id?)."""
    text = _text(rec.get("question", rec.get("text")), "question")
    choices = _choices(rec.get("choices"))
    by_index = rec.get("answer_index")
    by_index = None if by_index in (None, "") else _index(by_index, len(choices), "answer_index")
    answer = rec.get("answer")
    if answer in (None, "") and by_index is not None:
        gold = by_index
    else:
        gold = gold_index(answer, choices)
        if by_index is not None and by_index != gold:
            raise ValueError(f"'answer' names choice {gold} but 'answer_index' says {by_index}")
    category = rec.get("category")
    category = _text(category, "category").lower() if category else DEFAULT_CATEGORY
    qid = rec.get("question_id", rec.get("id"))
    qid = str(qid).strip() if qid not in (None, "") else f"q{line}"
    return Question(qid, category, text, (), choices[gold], CHOICE_KIND, None, choices)
