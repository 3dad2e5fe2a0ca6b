"""Drawing a refinement: live while it streams, and again from the history.

Model output is shown as markdown text only; Streamlit's markdown never renders raw HTML.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from core.app.refine import StoredRefinement
from core.types import StopReason
from pages.components.text import diff_markdown, escape

STEP_COLUMNS = {
    "round": "round",
    "kind": "kind",
    "completion_tokens": "tokens",
    "gen_tokens_per_s": "tokens/s",
    "total_s": "seconds",
    "prompt_tokens": "prompt",
    "prompt_tokens_reused": "prompt reused",
    "prefix_tokens": "reusable prefix",
}


@dataclass
class RunView:
    """Baseline on the left, the refined answer and each round's critique on the right."""

    container: object
    title: str | None = None
    slots: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    drawn_at: float = 0.0

    def __post_init__(self) -> None:
        with self.container:
            if self.title:
                st.markdown(f"#### {escape(self.title)}")
            left, right = st.columns(2)
        left.markdown("**Baseline**")
        right.markdown("**Refined**")
        self.slots["baseline"] = left.empty()
        self.slots["refined"] = right.empty()
        self.critiques = right.container()

    def _slot(self, round_no: int, kind: str):
        if kind in ("baseline", "refined"):
            return self.slots[kind]
        key = (round_no, kind)
        if key not in self.slots:
            if round_no not in self.slots:
                self.slots[round_no] = self.critiques.expander(f"Round {round_no} critique")
            self.slots[key] = self.slots[round_no].empty()
        return self.slots[key]

    def show(self, round_no: int, kind: str, text: str) -> None:
        label = "**Verdict, needs changes:** " if kind == "verdict" else ""
        self._slot(round_no, kind).markdown(label + text if text else "_…_")

    def on_token(self, round_no: int, kind: str, piece: str) -> None:
        key = (round_no, kind)
        self.texts[key] = self.texts.get(key, "") + piece
        if time.monotonic() - self.drawn_at > 0.05:
            self.show(round_no, kind, self.texts[key])
            self.drawn_at = time.monotonic()

    def on_step(self, round_no: int, kind: str, text: str) -> None:
        self.texts[(round_no, kind)] = text
        self.show(round_no, kind, text)


def show_steps(steps: pd.DataFrame, view: RunView) -> None:
    for row in steps.itertuples():
        view.on_step(row.round, row.kind, row.text)


def show_summary(stored: StoredRefinement) -> None:
    """Stop reason, the word-level diff between baseline and final, and per-step metrics."""
    reason = stored.run.stop_reason
    if reason and reason != StopReason.ROUNDS_COMPLETED:
        # An early stop changes what the final answer means, so it must not hide in a caption.
        last = stored.steps.iloc[-1]
        # A full context after a finished rewrite means the next round could not start.
        stopped_in = int(last["round"]) + int(
            reason == StopReason.CONTEXT_FULL and last["kind"] == "refined"
        )
        note = (
            f"Stopped early in round {stopped_in} of {stored.run.config.rounds}: "
            f"{StopReason.describe(reason)}."
        )
        (st.warning if reason == StopReason.CONTEXT_FULL else st.info)(note)
    if reason:
        done = (
            f"Stopped: {StopReason.describe(reason)} · "
            if reason == StopReason.ROUNDS_COMPLETED
            else ""
        )
        st.caption(
            f"{done}{stored.rounds_done} round(s) · {stored.words_changed:.0%} of words changed"
        )
    with st.expander("What refinement changed (baseline → final)", expanded=True):
        changed = stored.final != stored.baseline
        st.markdown(diff_markdown(stored.baseline, stored.final) if changed else "_No change._")
    st.dataframe(
        stored.steps[list(STEP_COLUMNS)].rename(columns=STEP_COLUMNS),
        hide_index=True,
        width="stretch",
        column_config={
            "tokens/s": st.column_config.NumberColumn(format="%.1f"),
            "seconds": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.caption(
        f"Run total: {stored.completion_tokens} tokens in {stored.seconds:.1f} s; "
        f"{stored.prompt_tokens_reused} of {stored.prompt_tokens} prompt tokens served from the "
        "KV cache."
    )
