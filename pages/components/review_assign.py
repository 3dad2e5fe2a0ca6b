"""Blind double coding on the Review page: a seeded sample of coded texts assigned to two or
more reviewers, for the agreement between humans."""

from __future__ import annotations

import streamlit as st

from core.app import classify
from core.errors import PerficsError
from core.types.classification import ReviewProgress
from pages.components.review_scope import Scope
from pages.components.text import escape


def double_coding(scope: Scope, stats: ReviewProgress) -> None:
    with st.expander("Double coding"):
        st.caption(
            "Assigned texts come first in each assignee's queue and are shown only to them; "
            "no assignee ever sees another's decision, so their agreement is measured blind. "
            "A name not listed yet can be typed in."
        )
        known = sorted({*stats.decisions_by_reviewer, scope.reviewer} - {""})
        c1, c2, c3 = st.columns([3, 1, 1])
        names = c1.multiselect(
            "Reviewers (at least two)", known, key="review_assignees", accept_new_options=True
        )
        count = c2.number_input(
            "Texts",
            1,
            max(1, stats.coded_texts),
            min(20, max(1, stats.coded_texts)),
            key="review_assign_count",
        )
        seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key="review_assign_seed")
        if st.button("Assign", key="review_assign", disabled=len(names) < 2):
            try:
                new = classify.assign(
                    scope.dataset, scope.codebook.name, names, int(count), int(seed)
                )
                who = ", ".join(escape(n) for n in names)
                st.success(
                    f"Assigned {min(int(count), stats.coded_texts)} text(s) to {who}: "
                    f"{new} new assignment(s)."
                )
            except PerficsError as exc:
                st.error(escape(str(exc)))
