"""Arena: blind A/B votes on stored answers, Bradley-Terry ratings, and judge agreement."""

import streamlit as st

from core.app.formatting import with_ci
from core.app.options import ARENA_MODES
from core.app.results import arena_state, cast_vote
from core.errors import PerficsError
from core.types import ArenaPair
from pages.components.results_view import pick_run
from pages.components.text import escape, show_model_text

MODE_LABELS = {"baseline_vs_refined": "Baseline vs refined", "model_vs_model": "Model vs model"}
CHOICES = [
    ("A is better", "left", "a"),
    ("B is better", "right", "b"),
    ("Tie", "tie", "t"),
    ("Both bad", "both_bad", "x"),
]


def vote_on(run_id: str, pair: ArenaPair, vote: str) -> None:
    try:
        cast_vote(run_id, pair, vote)
        st.session_state["arena_last"] = (
            f"Recorded. A was {pair.left_label}; B was {pair.right_label}."
        )
    except PerficsError as exc:
        st.session_state["arena_error"] = str(exc)


st.title("Arena")
st.caption(
    "Two answers to the same question, sides shuffled. Which is better? "
    "Keys: **A**, **B**, **T** (tie), **X** (both bad)."
)
if problem := st.session_state.pop("arena_error", None):
    st.error(escape(problem))
try:
    run_id = pick_run("arena_run", answers_only=True)
    if run_id is None:
        st.stop()
    mode = st.radio(
        "Pairs", list(ARENA_MODES), format_func=MODE_LABELS.get, horizontal=True, key="arena_mode"
    )
    state = arena_state(run_id, mode)
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

pair = state.next_pair
if pair is None:
    st.info(
        "No pairs left to vote on in this run and mode."
        if len(state.candidates)
        else "This run has no pairs of this kind yet (refinements that changed the answer, "
        "or two models answering the same question)."
    )
else:
    st.markdown(f"**Question:** {escape(pair.question)}")
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown("**A**")
        show_model_text(st, pair.left_text)
    with right.container(border=True):
        st.markdown("**B**")
        show_model_text(st, pair.right_text)
    buttons = st.columns(4)
    for col, (label, vote, key) in zip(buttons, CHOICES, strict=True):
        # The pair is bound when it is drawn: a vote goes to the pair on screen, even if another
        # tab voted on it or deleted its run before the key press reached us.
        col.button(
            label,
            key=f"arena_vote_{vote}",
            shortcut=key,
            width="stretch",
            on_click=vote_on,
            args=(run_id, pair, vote),
        )
if "arena_last" in st.session_state:
    st.caption(st.session_state["arena_last"])

st.subheader("Ratings from your votes")
st.caption(
    f"{len(state.votes)} vote(s) in this run. Bradley–Terry on an Elo-like scale, "
    "seeded bootstrap 95% intervals; ties and 'both bad' count as draws."
)
table = state.ratings
if table.empty:
    st.caption("Vote on pairs to see ratings.")
else:
    table["rating [95% CI]"] = [
        with_ci(r.rating, r.ci_low, r.ci_high, r.votes, "{:.0f}") for r in table.itertuples()
    ]
    st.dataframe(table[["answer", "rating [95% CI]"]], hide_index=True, width="stretch")

agreement = state.agreement
if agreement.pairs:
    kappa = agreement.cohen_kappa
    st.caption(
        f"Agreement with the LLM judge on {agreement.pairs} pair(s): "
        f"{agreement.agreement:.0%}" + (f", Cohen's κ = {kappa:.2f}." if kappa is not None else ".")
    )
