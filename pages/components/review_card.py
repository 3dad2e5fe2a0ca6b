"""One text of the review queue: the text (escaped), each distinct proposed label with the
coders that proposed it and their confidence, and the keyboard decisions.

Keys: 1–9 accept the i-th proposed label (single label: that label is the decision; multi-
label: it toggles in a pending set and Enter submits the set), 0 rejects every proposal and
opens "Add a missing label", U marks the text unclear, Z undoes your last decision, S skips the
text for this session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import streamlit as st

from core.app import classify
from core.errors import PerficsError
from core.types.classification import LabelValue, QueueItem
from pages.components.review_scope import Scope
from pages.components.text import escape, show_model_text

MAX_KEYED = 9  # digits 1–9


@dataclass(frozen=True)
class Proposed:
    """A label some coder proposed for the text, with who proposed it."""

    code: str
    name: str
    intensity: str | None  # the one most of its proposers gave, if any
    votes: tuple[str, ...]  # "model · k-shot · run 70 %"


def _percent(confidence: float | None) -> str:
    return "no confidence" if confidence is None else f"{confidence:.0%}"


def distinct_proposals(item: QueueItem, scope: Scope) -> list[Proposed]:
    """Labels most coders agree on first, then the most confident, then codebook order."""
    order = {code: i for i, code in enumerate(scope.codebook.codes)}
    found: dict[str, list] = {}
    for proposal in item.proposals:
        for label in proposal.labels:
            found.setdefault(label.code, []).append((proposal.coder, label))
    ranked = sorted(
        found.items(),
        key=lambda kv: (
            -len(kv[1]),
            -max((p.confidence or 0.0) for _, p in kv[1]),
            order.get(kv[0], len(order)),
        ),
    )
    result = []
    for code, votes in ranked:
        intensities = Counter(p.intensity for _, p in votes if p.intensity)
        name = scope.codebook.label(code).name if code in order else code
        result.append(
            Proposed(
                code,
                name,
                intensities.most_common(1)[0][0] if intensities else None,
                tuple(f"{c.label} {_percent(p.confidence)}" for c, p in votes),
            )
        )
    return result


# Every decision button is bound, when it is drawn, to the text on screen (on_click with
# args): a key press that reaches us after the queue moved on (another reviewer decided the
# text) still goes to the text the reviewer saw, never to whichever text is first now.


def _decide(scope: Scope, text_id: str, labels: list[LabelValue], unclear=False) -> None:
    try:
        classify.decide(
            scope.dataset, scope.codebook.name, text_id, scope.reviewer, labels, unclear
        )
    except PerficsError as exc:
        st.session_state["review_error"] = f"Not saved: {exc}"
        return
    names = ", ".join(scope.codebook.label(v.code).name for v in labels)
    saved = "unclear" if unclear else names
    st.session_state["review_notice"] = f"Saved text {text_id}: {saved}."
    st.session_state.pop("review_pending", None)
    st.session_state.pop("review_rejected", None)


def _pending(text_id: str) -> dict[str, str | None]:
    """The multi-label set being put together for this text (code -> intensity)."""
    held = st.session_state.get("review_pending")
    if not held or held[0] != text_id:
        held = (text_id, {})
        st.session_state["review_pending"] = held
    return held[1]


def _toggle(text_id: str, code: str, intensity: str | None) -> None:
    pending = _pending(text_id)
    if code in pending:
        del pending[code]
    else:
        pending[code] = intensity


def _submit(scope: Scope, text_id: str) -> None:
    pending = _pending(text_id)
    if not pending:
        st.session_state["review_error"] = "Accept at least one label first, or press 0 or U."
        return
    _decide(scope, text_id, [LabelValue(c, i) for c, i in pending.items()])


def _reject(text_id: str) -> None:
    st.session_state["review_rejected"] = text_id
    st.session_state.pop("review_pending", None)


def _save_missing(scope: Scope, text_id: str) -> None:
    added = st.session_state.get("review_missing")
    labels = (
        [LabelValue(code, i) for code, i in _pending(text_id).items()] if scope.multi_label else []
    )
    _decide(scope, text_id, [*labels, LabelValue(added)])


def _label_rows(item: QueueItem, scope: Scope, proposed: list[Proposed]) -> None:
    pending = _pending(item.text_id) if scope.multi_label else {}
    for i, p in enumerate(proposed, start=1):
        keyed = i <= MAX_KEYED
        number = str(i) if keyed else "–"
        rated = f" ({p.intensity})" if p.intensity else ""
        c1, c2 = st.columns([2, 5])
        if scope.multi_label:
            action, args = _toggle, (item.text_id, p.code, p.intensity)
        else:  # single label: that label is the decision
            action, args = _decide, (scope, item.text_id, [LabelValue(p.code)])
        c1.button(
            f"Accept {number} · {escape(p.name)}{rated}",
            key=f"review_accept_{i}",
            shortcut=str(i) if keyed else None,
            type="primary" if p.code in pending else "secondary",
            width="stretch",
            on_click=action,
            args=args,
        )
        c2.markdown("Proposed by " + "; ".join(escape(v) for v in p.votes))
    if scope.multi_label:
        names = ", ".join(scope.codebook.label(c).name for c in pending) or "nothing yet"
        st.markdown(f"Accepting: {escape(names)}")


def _missing_label(item: QueueItem, scope: Scope, proposed: list[Proposed]) -> None:
    pending = _pending(item.text_id) if scope.multi_label else {}
    shown = {p.code for p in proposed} if not scope.multi_label else set(pending)
    options = [label for label in scope.codebook.leaves if label.code not in shown]
    by_code = {label.code: label.name for label in options}
    c1, c2 = st.columns([3, 1])
    added = c1.selectbox(
        "Add a missing label", list(by_code), format_func=by_code.get, key="review_missing"
    )
    c2.button(
        "Save",
        key="review_save_missing",
        disabled=added is None,
        on_click=_save_missing,
        args=(scope, item.text_id),
    )


def review_card(item: QueueItem, scope: Scope) -> None:
    heading = f"**Text {escape(item.text_id)}**"
    if item.assigned:
        heading += " · assigned to you for double coding"
    st.markdown(heading)
    with st.container(border=True):
        show_model_text(st, item.text, "_(empty text)_")
    proposed = distinct_proposals(item, scope)
    _label_rows(item, scope, proposed)
    c1, c2, c3 = st.columns(3)
    if scope.multi_label:
        c1.button(
            "Submit · Enter",
            key="review_submit",
            shortcut="Enter",
            type="primary",
            on_click=_submit,
            args=(scope, item.text_id),
        )
    c2.button(
        "Reject all · 0", key="review_reject", shortcut="0", on_click=_reject, args=(item.text_id,)
    )
    c3.button(
        "Unclear · U",
        key="review_unclear",
        shortcut="u",
        on_click=_decide,
        args=(scope, item.text_id, [], True),
    )
    if st.session_state.get("review_rejected") == item.text_id:
        _missing_label(item, scope, proposed)
