"""Word-level difference between two texts, for showing what refinement changed."""

from __future__ import annotations

import difflib


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(op, words) runs in reading order; op is "equal", "delete" or "insert".
    A replaced run yields a delete followed by an insert."""
    a, b = before.split(), after.split()
    runs: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("equal", "delete", "replace") and i2 > i1:
            runs.append(("equal" if op == "equal" else "delete", " ".join(a[i1:i2])))
        if op in ("insert", "replace") and j2 > j1:
            runs.append(("insert", " ".join(b[j1:j2])))
    return runs


def change_ratio(before: str, after: str) -> float:
    """Share of words that differ: 0 for identical texts, 1 for nothing in common."""
    a, b = before.split(), after.split()
    if not a and not b:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(a=a, b=b, autojunk=False).ratio()
