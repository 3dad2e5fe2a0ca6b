"""The Agreement & metrics page's pickers and its agreement tables: each model's acceptance
rate, Cohen's κ for pairs, Fleiss' κ and Krippendorff's α for groups, and κ per label."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.app import classify
from core.app.classify_results import GOLD, VERIFIED, AgreementReport
from core.types.agreement import GroupAgreement, PairAgreement
from core.types.classification import Codebook, VerifyRule
from pages.components.coding_scope import RULES, coded_runs, pick_coded_runs
from pages.components.estimates import Missing
from pages.components.text import escape

REFERENCES = {VERIFIED: "Verified labels", GOLD: "Gold labels (imported)"}


@dataclass(frozen=True)
class Scope:
    dataset: str
    codebook: Codebook
    run_ids: tuple[str, ...]
    rule: VerifyRule
    against: str  # VERIFIED or GOLD
    major: bool  # metrics rolled up to the top labels of the hierarchy
    has_gold: bool

    @property
    def names(self) -> dict[str, str]:
        return {label.code: label.name for label in self.codebook.labels}


def agreement_scope() -> Scope | None:
    """The page's pickers; None (with what to do next) when no run has coded a text."""
    coded = coded_runs()
    if coded.empty:
        st.info(
            "No coded texts yet: on the Classify page, import a dataset and a codebook and "
            "start a coding run; then verify its labels on the Review page."
        )
        return None
    picked = pick_coded_runs(coded, "agree", "Coding runs", "Choose at least one coding run.")
    if picked is None:
        return None
    dataset = picked.dataset
    book = classify.codebook(picked.codebook)
    info = classify.datasets().set_index("name")
    has_gold = dataset in info.index and int(info.at[dataset, "gold_texts"]) > 0
    c1, c2, c3 = st.columns(3)
    rule = c1.radio(
        "Verified when", list(RULES), format_func=RULES.get, key="agree_rule", horizontal=True
    )
    references = [VERIFIED, GOLD] if has_gold else [VERIFIED]
    against = c2.radio(
        "Metrics against",
        references,
        format_func=REFERENCES.get,
        key="agree_against",
        horizontal=True,
        help=None if has_gold else "This dataset was imported without gold labels.",
    )
    major = False
    if any(label.parent for label in book.labels):
        major = c3.checkbox(
            "Roll up to major labels",
            key="agree_major",
            help="Metrics count each label as its top parent in the codebook's hierarchy.",
        )
    return Scope(dataset, book, picked.run_ids, VerifyRule(rule), against, major, has_gold)


def acceptance_table(report: AgreementReport) -> None:
    st.subheader("Acceptance of each model's proposals")
    if not report.acceptance:
        st.info(
            "No proposal of these runs has been reviewed yet: accept or reject some on the "
            "Review page."
        )
        return
    missing = Missing()
    rows = [
        {
            "model": a.model,
            "accepted": a.accepted,
            "reviewed (n)": a.rate.n,
            "acceptance rate [95 % CI]": missing.cell(a.rate, a.model, percent=True),
        }
        for a in report.acceptance
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    missing.caption()
    st.caption(
        "The share of each model's proposed labels reviewers kept (the paper's key table): one "
        "count per proposal and clear decision on its text, so a text two reviewers decided "
        "counts twice. Wilson 95 % interval."
    )


def _pairs(title: str, pairs: tuple[PairAgreement, ...], empty: str) -> None:
    st.markdown(f"**{title}**")
    if not pairs:
        st.caption(empty)
        return
    missing = Missing()
    rows = [
        {
            "coder A": p.coder_a,
            "coder B": p.coder_b,
            "Cohen's κ [95 % CI]": missing.cell(p.kappa, f"{p.coder_a} ~ {p.coder_b}"),
            "texts (n)": p.kappa.n,
            "same labels [95 % CI]": missing.cell(
                p.percent_agreement, f"{p.coder_a} ~ {p.coder_b}, same labels"
            ),
        }
        for p in pairs
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    missing.caption()
    st.caption(escape(f"Basis: {'; '.join(dict.fromkeys(p.basis for p in pairs))}."))


def kappa_tables(report: AgreementReport, names: dict[str, str]) -> None:
    st.subheader("Agreement (Cohen's κ, bootstrap 95 % CI over texts)")
    _pairs("Between reviewers", report.humans, "Needs two reviewers who decided the same texts.")
    _pairs(
        "Each model against the verified labels",
        report.models_vs_verified,
        "No verified text yet: verify some on the Review page.",
    )
    _pairs("Between models", report.models, "Needs two model coders on the same texts.")
    _groups(report)
    _per_label(report, names)


def _groups(report: AgreementReport) -> None:
    groups: list[tuple[str, GroupAgreement]] = [
        (who, g)
        for who, g in (("reviewers", report.humans_group), ("models", report.models_group))
        if g is not None
    ]
    st.markdown("**Among all reviewers, among all models**")
    if not groups:
        st.caption("Needs two reviewers or two model coders.")
        return
    missing = Missing()
    rows = [
        {
            "coders": f"{len(g.coders)} {who}",
            "Fleiss' κ [95 % CI]": missing.cell(g.fleiss_kappa, f"Fleiss' κ, {who}"),
            "Fleiss n (texts all coded)": g.fleiss_kappa.n,
            "Krippendorff's α [95 % CI]": missing.cell(g.krippendorff_alpha, f"α, {who}"),
            "α n (texts two or more coded)": g.krippendorff_alpha.n,
            "basis": g.basis,
        }
        for who, g in groups
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    missing.caption()


def _per_label(report: AgreementReport, names: dict[str, str]) -> None:
    pairs = [*report.humans, *report.models_vs_verified, *report.models]
    if not pairs:
        return
    with st.expander("Cohen's κ per label (presence or absence of each label)"):
        missing = Missing()
        rows = [
            {
                "coder A": p.coder_a,
                "coder B": p.coder_b,
                "label": names.get(one.label, one.label),
                "κ [95 % CI]": missing.cell(
                    one.kappa, f"{p.coder_a} ~ {p.coder_b}, {names.get(one.label, one.label)}"
                ),
                "texts (n)": one.kappa.n,
            }
            for p in pairs
            for one in p.per_label
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        missing.caption(limit=3)
