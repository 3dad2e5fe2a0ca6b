"""Drawing a refinement: live while it streams, and again from the store.

Layout of one run: the baseline on the left; on the right why the run stopped (at the top, in
words), the refined answer, each finished round's critique (collapsed) and the round in
progress (in view, streaming). While it runs, a "Now: …" line above says which step is being
written. Model output is untrusted: it goes through show_model_text / escape only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from core.app.formatting import data_left_text, model_label
from core.app.options import TEMPLATE_DEFAULTS, template_from_text
from core.app.refine import StoredRefinement
from core.app.scoring import score_step
from core.errors import PerficsError
from core.types import ModelInfo, RunRecord, RunStatus, StopReason
from pages.components.text import diff_markdown, escape, show_model_text
from pages.components.token_view import token_panel

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
STEP_NAMES = {
    "critique": "critique",
    "verdict": "verdict (does the answer need changes?)",
    "refined": "rewrite",
}
DRAW_EVERY_S = 0.05


def template_label(kind: str, text: str) -> str:
    """Names the id the text will be stored under: a new, derived one once it is edited."""
    try:
        template = template_from_text(kind, text)
    except PerficsError:
        return f"{kind} template (empty: a run would refuse it)"
    edited = "" if template is TEMPLATE_DEFAULTS[kind] else ", edited"
    return f"{kind} template ({template.id}{edited})"


def template_inputs() -> dict[str, str]:
    """One text area per template kind (inside the page's form); returns the texts."""
    with st.expander("Critique and rewrite prompts (editing one saves it under a new id)"):
        return {
            kind: st.text_area(
                template_label(kind, st.session_state.get(f"refine_tpl_{kind}", t.text)),
                t.text,
                key=f"refine_tpl_{kind}",
            )
            for kind, t in TEMPLATE_DEFAULTS.items()
        }


def base_model_warning(info: ModelInfo | None) -> str | None:
    """Like the Models page: a model without a chat template is flagged wherever it runs."""
    if info is None or info.has_chat_template:
        return None
    return (
        f"{info.name} is a base model (no chat template): it was not trained to follow "
        "instructions, so it may repeat the critique or rewrite request instead of doing it. "
        "Read its rounds as a contrast to an instruct model, not as refinement."
    )


def step_name(round_no: int, kind: str, rounds: int | None) -> str:
    if kind == "baseline":
        return "first answer"
    of = f" of {rounds}" if rounds else ""
    return f"round {round_no}{of} · {STEP_NAMES.get(kind, kind)}"


@dataclass
class RunView:
    """One run's two columns. Steps arrive through on_token (streaming) and on_step (done),
    both live and when a stored run is replayed; finish() adds the stop reason."""

    container: object
    title: str | None = None
    rounds: int | None = None
    warning: str | None = None
    texts: dict = field(default_factory=dict)
    current_round: dict = field(default_factory=dict)  # kind -> text of the open round
    open_round: int | None = None
    streaming: tuple | None = None
    drawn_at: float = 0.0

    def __post_init__(self) -> None:
        with self.container:
            if self.title:
                st.markdown(f"#### {escape(self.title)}")
            if self.warning:
                st.warning(self.warning)
            self.status = st.empty()
            left, right = st.columns(2)
        left.markdown("**Baseline**")
        right.markdown("**Refined**")
        self.baseline = left.empty()
        self.notice = right.empty()  # why the run stopped: the first thing under the heading
        self.refined = right.empty()
        self.finished_rounds = right.container()
        self.live_round = right.empty()
        self.round_slots: dict = {}

    def waiting(self, text: str) -> None:
        self.status.caption(text)

    def now(self, round_no: int, kind: str) -> None:
        # No icon: a Material one is a font glyph the dashboard must not depend on.
        self.status.info(f"Now: {step_name(round_no, kind, self.rounds)}")

    def done(self) -> None:
        self.status.empty()

    def _open(self, round_no: int) -> None:
        if self.open_round == round_no:
            return
        self._close()
        self.open_round, self.current_round = round_no, {}
        box = self.live_round.container(border=True)
        box.markdown(f"**Round {round_no} critique**")
        self.round_slots = {"critique": box.empty(), "verdict": box.empty()}

    def _close(self, expanded: bool = False) -> None:
        """Fold the open round into a collapsed expander under the refined answer."""
        if self.open_round is None:
            return
        self.live_round.empty()
        box = self.finished_rounds.expander(f"Round {self.open_round} critique", expanded=expanded)
        show_model_text(box, self.current_round.get("critique"), empty="_(no critique)_")
        if "verdict" in self.current_round:
            box.markdown(f"**Verdict, needs changes:** {escape(self.current_round['verdict'])}")
        self.open_round, self.current_round = None, {}

    def _draw(self, round_no: int, kind: str, text: str) -> None:
        if kind == "baseline":
            show_model_text(self.baseline, text, empty="_…_")
        elif kind == "refined":
            show_model_text(self.refined, text, empty="_…_")
        else:
            self._open(round_no)
            self.current_round[kind] = text
            slot = self.round_slots[kind]
            if kind == "verdict":
                slot.markdown(f"**Verdict, needs changes:** {escape(text) or '…'}")
            else:
                show_model_text(slot, text, empty="_…_")

    def on_token(self, round_no: int, kind: str, piece: str) -> None:
        key = (round_no, kind)
        self.texts[key] = self.texts.get(key, "") + piece
        new_step = key != self.streaming
        if new_step:
            self.streaming = key
            self.now(round_no, kind)
        if new_step or time.monotonic() - self.drawn_at > DRAW_EVERY_S:
            self._draw(round_no, kind, self.texts[key])
            self.drawn_at = time.monotonic()

    def on_step(self, round_no: int, kind: str, text: str) -> None:
        self.texts[(round_no, kind)] = text
        self._draw(round_no, kind, text)
        if kind == "refined":
            self._close()

    def finish(self, stored: StoredRefinement) -> None:
        """The stop reason at the top of the refined column, and the answer that was kept."""
        self.done()
        self._close(expanded=True)  # a round that ended without a rewrite explains the stop
        level, note = stop_note(stored)
        getattr(self.notice, level)(note)
        if not stored.rounds_done:
            show_model_text(self.refined, stored.final, empty="_(no answer was kept)_")


def _kept(stored: StoredRefinement) -> str:
    if stored.final is None:
        return "no answer"
    if not stored.rounds_done:
        return "the first answer"
    last = int(stored.steps[stored.steps.kind == "refined"]["round"].iloc[-1])
    return f"the round {last} rewrite"


def stop_note(stored: StoredRefinement) -> tuple[str, str]:
    """(st method, sentence): why the run stopped and which answer the refined column holds."""
    run, steps = stored.run, stored.steps
    rounds, kept = run.config.rounds, _kept(stored)
    last = steps.iloc[-1] if len(steps) else None
    # The round the run was in when it ended: after a baseline or a rewrite, the next one.
    in_round = (
        0 if last is None else int(last["round"]) + int(last["kind"] in ("baseline", "refined"))
    )
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        return "info", f"Still running in round {in_round}; open it again from the history later."
    if run.status != RunStatus.COMPLETED:
        where = f" in round {in_round}" if last is not None else " before the first answer"
        return (
            "error" if run.status == RunStatus.FAILED else "warning",
            f"Run {run.status}{where}: {run.error or 'no error text'}. {len(steps)} finished "
            f"step(s) were kept; the refined column shows {kept}.",
        )
    reason = run.stop_reason
    if reason in (None, StopReason.ROUNDS_COMPLETED):
        return (
            "caption",
            f"Stopped: all requested rounds ran ({rounds} of {rounds}); showing {kept}.",
        )
    why = StopReason.describe(reason)
    if reason == StopReason.CONTEXT_FULL:
        return "warning", f"Stopped in round {in_round} of {rounds}: {why}, so {kept} was kept."
    done = int(last["round"]) if last is not None else 0
    return "info", f"Stopped after round {done} of {rounds}: {why}, so {kept} was kept."


def run_heading(runs: list[RunRecord]) -> None:
    """Which run this is: date, model(s), settings and prompt, apart from the input form."""
    run, config = runs[0], runs[0].config
    s = config.settings
    refs = [r.config.model for r in runs]
    models = " vs ".join(model_label(m.name, m.leaves_machine) for m in refs)
    early = "stops early when nothing to fix" if config.stop_early else "fixed rounds"
    templates = ", ".join(t.id for t in config.templates.values())
    st.subheader(f"Run from {run.created_at:%Y-%m-%d %H:%M} UTC")
    st.caption(
        f"{escape(models)} · {config.rounds} round(s) · temperature {s.temperature:g} · "
        f"at most {s.max_tokens} tokens per step · seed {s.seed} · {early} · "
        f"templates {escape(templates)}"
    )
    st.markdown(f"**Prompt:** {escape(config.prompt)}")
    if left := data_left_text(sorted({m.endpoint for m in refs if m.leaves_machine})):
        st.caption(escape(left))


def show_runs(runs: list[StoredRefinement], models: dict[str, ModelInfo]) -> None:
    """Stored runs made together (one, or one per model in compare mode) under one heading."""
    if not runs:
        return
    run_heading([r.run for r in runs])
    columns = st.columns(len(runs)) if len(runs) > 1 else [st.container()]
    for stored, column in zip(runs, columns, strict=True):
        name = stored.run.config.model.name
        with column:
            info = models.get(name)
            show_stored(stored, name if len(runs) > 1 else None, base_model_warning(info), info)


def show_stored(
    stored: StoredRefinement,
    title: str | None,
    warning: str | None,
    info: ModelInfo | None = None,
) -> None:
    view = RunView(st.container(), title, stored.run.config.rounds, warning)
    for row in stored.steps.itertuples():
        view.on_step(row.round, row.kind, row.text)
    view.finish(stored)
    if len(stored.steps):
        show_summary(stored)
        answer_tokens(stored, info)


def answer_tokens(stored: StoredRefinement, info: ModelInfo | None) -> None:
    """Any answer or critique of the run token by token, scored under the prompt it was
    given (the verdict is a forced yes/no, so it is left out)."""
    run, steps = stored.run, stored.steps
    shown = steps[steps.kind != "verdict"]
    last_rewrite = steps.step[steps.kind == "refined"].max()
    steps_by_label = {
        step_name(int(r.round), r.kind, run.config.rounds)
        + (" (final)" if r.step == last_rewrite else ""): int(r.step)
        for r in shown.itertuples()
    }
    picked = st.selectbox(
        "Show token by token",
        list(steps_by_label),
        index=None,
        placeholder="Pick an answer to see each token's probability",
        key=f"refine_tokens_{run.id}",
    )
    if picked is not None:
        step = steps_by_label[picked]
        token_panel(
            f"refine_tokens_{run.id}_{step}",
            info,
            run.config.model.name,
            lambda b: score_step(b, run.id, step),
        )


def show_summary(stored: StoredRefinement) -> None:
    """The word-level diff between baseline and final, and per-step metrics."""
    st.caption(f"{stored.rounds_done} rewrite(s) · {stored.words_changed:.0%} of words changed")
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


def history_picker(history: pd.DataFrame, newest: bool) -> str | None:
    """Past refinements, newest first; the id of the one to open when Open is clicked.
    newest: a run was just made, so the picker moves to it instead of keeping its old pick."""
    labels = {
        r.id: f"{r.created_at:%Y-%m-%d %H:%M} UTC · {r.model} · {r.status} · {r.prompt[:60]}"
        for r in history.itertuples()
    }
    if newest or st.session_state.get("refine_history_pick") not in labels:
        st.session_state["refine_history_pick"] = history.id.iloc[0]
    picked = st.selectbox(
        "Past refinements", list(labels), format_func=labels.get, key="refine_history_pick"
    )
    return picked if st.button("Open", key="refine_history_open") else None
