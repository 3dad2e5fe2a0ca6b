"""What the Review page reviews: the reviewer, a dataset with a codebook that has coded texts,
the coding runs to include, the verify rule, the queue's order and its filters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.app import classify
from core.types.classification import Codebook, VerifyRule
from pages.components.coding_scope import RULES, coded_runs, pick_coded_runs

ORDERS = {"disagreement": "Model disagreement first", "confidence": "Lowest confidence first"}
ORDER_NOTES = {
    "disagreement": "Active order: texts where the coders proposed the most different labels "
    "come first; among those, the lowest confidence first.",
    "confidence": "Active order: texts whose least confident proposal is lowest come first; "
    "among those, the ones with the most different labels.",
}
RULE_NOTES = {
    VerifyRule.ONE: "One reviewer: a text is verified by the first reviewer's decision; it "
    "leaves everyone's queue once someone has decided it.",
    VerifyRule.TWO_AGREE: "Two agreeing: a text is verified when two reviewers chose the same "
    "labels; it stays in the queue until two reviewers have decided it.",
}
ANY = "(any)"


@dataclass(frozen=True)
class Scope:
    reviewer: str
    dataset: str
    codebook: Codebook
    run_ids: tuple[str, ...]
    multi_label: bool
    rule: VerifyRule
    order: str
    label: str | None
    model: str | None


def _reviewer() -> str:
    """The name survives a visit to another page (a widget's own key would not)."""
    name = st.text_input(
        "Your name (reviewer)",
        st.session_state.get("review_name", ""),
        key="review_reviewer",
        help="Every decision is stored with it. Several reviewers can work on the same texts.",
    )
    st.session_state["review_name"] = name.strip()
    return name.strip()


def review_scope() -> Scope | None:
    """The page's pickers; None (with what to do next) when there is nothing to review."""
    reviewer = _reviewer()
    coded = coded_runs()
    if coded.empty:
        where = "import a dataset and a codebook, then " if classify.datasets().empty else ""
        st.info(f"No coded texts yet: on the Classify page, {where}start a coding run.")
        return None
    picked = pick_coded_runs(
        coded,
        "review",
        "Coding runs to include",
        "Choose at least one coding run whose proposals to review.",
    )
    if picked is None:
        return None
    dataset, codebook, chosen = picked.dataset, picked.codebook, picked.run_ids
    book = classify.codebook(codebook)
    c1, c2, c3, c4 = st.columns(4)
    rule = c1.radio("Verified when", list(RULES), format_func=RULES.get, key="review_rule")
    order = c2.radio("Queue order", list(ORDERS), format_func=ORDERS.get, key="review_order")
    leaves = {label.code: label.name for label in book.leaves}
    label = c3.selectbox(
        "Proposed label", [ANY, *leaves], format_func=lambda c: leaves.get(c, c), key="review_label"
    )
    coders = classify.coders(dataset, codebook)
    models = sorted({c.model for c in coders if c.run_id in chosen})
    model = c4.selectbox("Coded by model", [ANY, *models], key="review_model")
    st.caption(f"{RULE_NOTES[rule]} {ORDER_NOTES[order]}")
    return Scope(
        reviewer,
        dataset,
        book,
        chosen,
        picked.multi_label,
        VerifyRule(rule),
        order,
        None if label == ANY else label,
        None if model == ANY else model,
    )
