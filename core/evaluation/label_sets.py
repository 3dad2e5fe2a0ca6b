"""Label sets as the agreement and metric statistics take them, and the hierarchy roll-up.

The shape, everywhere in these statistics:

- `LabelSets = Mapping[text_id, frozenset[code]]`: what one coder (a reviewer, a model's
  coding run, the verified or gold labels) gave each text.
- `CoderLabels = Mapping[coder, LabelSets]`: several coders at once.
- `universe`: the codebook's codes in codebook order, passed explicitly so that a label nobody
  used still gets its row per category. A code outside it is an error (InvalidLabels).

What counts as "coded": a text missing from a coder's mapping was not coded by that coder.
Single-label data: a set holds exactly one code; an empty set also means "not coded" (no
answer), and a set of two or more codes is an error. Multi-label data: any set, the empty one
included ("none of the labels apply"), means coded.

Single- or multi-label: callers that know (a coding run's configuration) pass `multi_label`;
None infers it, multi-label when some set holds more than one code. A multi-label run in which
every answer happened to hold one label is then treated as single-label, so pass it.

`labels_from_frame` turns a long table (one row per coder, text and label; a row with no
label records a text coded with none) into this shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.errors import InvalidLabels

LabelSets = Mapping[str, frozenset[str]]
CoderLabels = Mapping[str, LabelSets]


def labels_from_frame(
    frame: pd.DataFrame, coder: str = "coder", text: str = "text_id", label: str = "label"
) -> dict[str, dict[str, frozenset[str]]]:
    """Long rows (coder, text, label) to `CoderLabels`; a missing label codes the text empty."""
    missing = [c for c in (coder, text, label) if c not in frame.columns]
    if missing:
        raise InvalidLabels(f"The label table has no column {', '.join(map(repr, missing))}.")
    found: dict[str, dict[str, set[str]]] = {}
    for who, text_id, code in frame[[coder, text, label]].itertuples(index=False):
        codes = found.setdefault(str(who), {}).setdefault(str(text_id), set())
        if not pd.isna(code):
            codes.add(str(code))
    return {who: {t: frozenset(c) for t, c in texts.items()} for who, texts in found.items()}


def check_universe(universe: Sequence[str]) -> tuple[str, ...]:
    codes = tuple(universe)
    if not codes:
        raise InvalidLabels("The codebook has no labels.")
    if len(set(codes)) != len(codes):
        raise InvalidLabels("The codebook lists a label code twice.")
    return codes


def coders_of(labels: CoderLabels, coders: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(coders)
    unknown = [c for c in chosen if c not in labels]
    if unknown:
        raise InvalidLabels(
            f"No labels from {', '.join(map(repr, unknown))}; coders: {', '.join(labels)}."
        )
    if len(set(chosen)) != len(chosen):
        raise InvalidLabels("A coder is listed twice.")
    return chosen


def infer_multi_label(sets: Iterable[LabelSets]) -> bool:
    return any(len(codes) > 1 for one in sets for codes in one.values())


def coded(sets: LabelSets, universe: Sequence[str], multi_label: bool, who: str) -> LabelSets:
    """The texts this coder coded (see the module docstring), checked against the universe."""
    known = set(universe)
    kept: dict[str, frozenset[str]] = {}
    for text_id, codes in sets.items():
        codes = frozenset(codes)
        strange = codes - known
        if strange:
            raise InvalidLabels(
                f"{who} gave text {text_id!r} the label(s) {', '.join(sorted(strange))}, "
                "which the codebook does not have."
            )
        if not multi_label and len(codes) > 1:
            raise InvalidLabels(
                f"{who} gave text {text_id!r} {len(codes)} labels in single-label data."
            )
        if multi_label or codes:
            kept[str(text_id)] = codes
    return kept


def presence(sets: LabelSets, text_ids: Sequence[str], universe: Sequence[str]) -> np.ndarray:
    """Texts × labels, True where the text has the label (texts and labels in the given order)."""
    column = {code: j for j, code in enumerate(universe)}
    matrix = np.zeros((len(text_ids), len(universe)), dtype=bool)
    for i, text_id in enumerate(text_ids):
        for code in sets[text_id]:
            matrix[i, column[code]] = True
    return matrix


def _root(code: str, parent_of: Mapping[str, str]) -> str:
    seen = {code}
    while parent_of.get(code) not in (None, "", code):
        code = parent_of[code]
        if code in seen:
            raise InvalidLabels(f"The label hierarchy has a cycle through {code!r}.")
        seen.add(code)
    return code


def roll_up_codes(universe: Sequence[str], parent_of: Mapping[str, str]) -> tuple[str, ...]:
    """The top-level codes the universe rolls up to, in the order they first appear."""
    return tuple(dict.fromkeys(_root(code, parent_of) for code in universe))


def roll_up_sets(sets: LabelSets, parent_of: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Each label replaced by its top-level ancestor (child -> parent, followed to the top; a
    code without a parent stays). Two subtopics of one major topic become that one topic."""
    return {t: frozenset(_root(code, parent_of) for code in codes) for t, codes in sets.items()}


def roll_up(labels: CoderLabels, parent_of: Mapping[str, str]) -> dict[str, dict[str, frozenset]]:
    """`roll_up_sets` for every coder."""
    return {who: roll_up_sets(sets, parent_of) for who, sets in labels.items()}
