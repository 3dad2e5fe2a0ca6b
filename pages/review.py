"""Review: verify the labels models proposed, one text at a time, by keyboard (issue 12)."""

import streamlit as st

from core.app import classify
from core.errors import PerficsError
from pages.components.coding_scope import scope_or_stop
from pages.components.review_assign import double_coding
from pages.components.review_card import review_card
from pages.components.review_scope import review_scope
from pages.components.text import escape

QUEUE_LIMIT = 20

st.title("Review")
st.caption(
    "Each text with every model's proposed labels. Keys: **1–9** accept the i-th label "
    "(multi-label: toggle it, **Enter** submits), **0** reject all and add the right label, "
    "**U** unclear, **Z** undo your last decision, **S** skip."
)
scope = scope_or_stop(review_scope)

book = scope.codebook.name
stats = classify.review_stats(scope.dataset, book, scope.rule)
m = st.columns(6)
m[0].metric("Coded texts", stats.coded_texts)
m[1].metric("Reviewed", stats.reviewed_texts)
m[2].metric("Verified", stats.verified_texts, help="Under the rule chosen above")
m[3].metric("Unclear", stats.unclear_texts)
m[4].metric("Your decisions", stats.decisions_by_reviewer.get(scope.reviewer, 0))
m[5].metric("Assigned for double coding", stats.assigned_texts)
if stats.coded_texts:
    st.progress(stats.verified_texts / stats.coded_texts)

if not scope.reviewer:
    st.info("Enter your name as reviewer above to start: every decision is stored with it.")
    st.stop()
if notice := st.session_state.pop("review_notice", None):
    st.caption(escape(notice))
if problem := st.session_state.pop("review_error", None):
    st.error(escape(problem))

# Skipped texts are remembered for this browser session only, per dataset, codebook and name.
skipped_all = st.session_state.setdefault("review_skipped", {})
skipped = skipped_all.setdefault((scope.dataset, book, scope.reviewer), set())
try:
    waiting = classify.queue(
        scope.dataset,
        book,
        scope.reviewer,
        scope.rule,
        list(scope.run_ids),
        scope.order,
        scope.label,
        scope.model,
        limit=QUEUE_LIMIT + len(skipped),
    )
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

focus = st.session_state.get("review_focus")
item = next((i for i in waiting if i.text_id == focus), None) or next(
    (i for i in waiting if i.text_id not in skipped), None
)
if item is not None:
    review_card(item, scope)
elif waiting:
    st.info(f"You skipped the {len(waiting)} text(s) left in your queue.")
    if st.button("Show the skipped texts again", key="review_unskip"):
        skipped.clear()
        st.rerun()
else:
    filtered = " with these filters" if scope.label or scope.model else ""
    st.info(
        f"Your queue is empty{filtered}: every text coded by the chosen runs has your decision "
        "or the reviews the rule needs. Code more texts on the Classify page, change the "
        "filters, or press Z to undo your last decision."
    )


def skip(text_id: str) -> None:
    """Bound to the text on screen, like every decision (pages/components/review_card.py)."""
    skipped.add(text_id)
    st.session_state.pop("review_focus", None)


c1, c2 = st.columns(2)
if item is not None:
    c1.button("Skip · S", key="review_skip", shortcut="s", on_click=skip, args=(item.text_id,))
if c2.button("Undo · Z", key="review_undo", shortcut="z"):
    try:
        text_id = classify.undo(scope.dataset, book, scope.reviewer)
    except PerficsError as exc:
        st.error(str(exc))
        st.stop()
    if text_id is None:
        st.session_state["review_notice"] = "Nothing to undo: you have no decision here."
    else:
        skipped.discard(text_id)
        st.session_state["review_focus"] = text_id  # the undone text comes back first
        st.session_state["review_notice"] = f"Undid your decision on text {text_id}."
    st.rerun()

double_coding(scope, stats)
