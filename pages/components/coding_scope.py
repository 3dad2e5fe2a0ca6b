"""What the Review and Agreement & metrics pages share in their pickers: a dataset · codebook
pair that coding runs have coded texts of, the runs of it to include, and stopping the page
when there is nothing to pick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
import streamlit as st

from core.app import classify
from core.errors import PerficsError
from core.types.classification import VerifyRule

T = TypeVar("T")
RULES = {VerifyRule.ONE: "One reviewer", VerifyRule.TWO_AGREE: "Two agreeing"}


@dataclass(frozen=True)
class CodedRuns:
    dataset: str
    codebook: str
    run_ids: tuple[str, ...]
    multi_label: bool  # some chosen run proposed several labels per text


def coded_runs() -> pd.DataFrame:
    """The coding runs that have coded at least one text."""
    runs = classify.runs()
    return runs[(runs.done_units - runs.failed_units) > 0]


def _run_label(r) -> str:
    kind = "multi-label" if r.multi_label else "single label"
    return f"{r.created_at:%Y-%m-%d %H:%M} · {r.models} · {r.shots}-shot · {kind} · {r.id[:6]}"


def pick_coded_runs(
    coded: pd.DataFrame, prefix: str, runs_label: str, none_chosen: str
) -> CodedRuns | None:
    """A dataset · codebook picker keyed `{prefix}_pair` and its runs, all chosen at first
    (keyed by the pair, so each pair keeps its own choice); None, with `none_chosen`, when
    the user chose none."""
    pairs = list(dict.fromkeys(zip(coded.dataset, coded.codebook, strict=True)))
    c1, c2 = st.columns([2, 3])
    dataset, codebook = c1.selectbox(
        "Dataset · codebook", pairs, format_func=" · ".join, key=f"{prefix}_pair"
    )
    mine = coded[(coded.dataset == dataset) & (coded.codebook == codebook)]
    labels = {r.id: _run_label(r) for r in mine.itertuples()}
    chosen = c2.multiselect(
        runs_label,
        list(labels),
        default=list(labels),
        format_func=labels.get,
        key=f"{prefix}_runs_{dataset}_{codebook}",
    )
    if not chosen:
        st.info(none_chosen)
        return None
    multi = bool(mine[mine.id.isin(chosen)].multi_label.any())
    return CodedRuns(dataset, codebook, tuple(chosen), multi)


def scope_or_stop(pick_scope: Callable[[], T | None]) -> T:
    """What a page's pickers chose. The page stops at an error (shown) or when there is
    nothing to choose (the pickers have said what to do next)."""
    try:
        scope = pick_scope()
    except PerficsError as exc:
        st.error(str(exc))
        st.stop()
    if scope is None:
        st.stop()
    return scope
