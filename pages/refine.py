"""Refine: a model answers, critiques its own answer and rewrites it, live and side by side."""

import streamlit as st

from core.app.options import (
    DEFAULT_ROUNDS,
    MAX_ROUNDS,
    TEMPLATE_DEFAULTS,
    default_model,
    template_from_text,
)
from core.app.refine import refine, refine_history, stored_refinement
from core.errors import PerficsError
from core.types import RefineRequest
from pages.components import resources
from pages.components.refine_view import RunView, show_steps, show_summary
from pages.components.sampler import sampler_inputs

st.title("Self-refinement")
st.caption(
    "The model answers, critiques its own answer with no rubric and no outside help, "
    "and rewrites it, round after round."
)

usable = resources.usable_models()
if not usable:
    st.warning("No usable models. Add .gguf files on the Models page first.")
    st.stop()
names = [m.name for m in usable]
default_index = names.index(default_model(usable).name)

with st.form("refine_form"):
    prompt = st.text_area(
        "Prompt", "Give me three tips for writing a clear email.", key="refine_prompt"
    )
    compare = st.toggle("Compare two models", key="refine_compare")
    c1, c2 = st.columns(2)
    model_a = c1.selectbox("Model", names, index=default_index, key="refine_model")
    model_b = c2.selectbox(
        "Second model (compare mode)",
        names,
        index=(default_index + 1) % len(names),
        key="refine_model_b",
    )
    c1, *rest = st.columns(4)
    rounds = c1.number_input("Rounds", 0, MAX_ROUNDS, DEFAULT_ROUNDS, key="refine_rounds")
    settings = sampler_inputs([rest[1], rest[0], rest[2]], "refine")
    stop_early = st.checkbox(
        "Stop early when the critique finds nothing to fix",
        value=True,
        key="refine_stop_early",
        help="Off: every round critiques and rewrites, as in the paper's fixed-round protocol.",
    )
    with st.expander("Critique and rewrite prompts (editing one saves it under a new id)"):
        edited = {
            kind: st.text_area(f"{kind} template ({t.id})", t.text, key=f"refine_tpl_{kind}")
            for kind, t in TEMPLATE_DEFAULTS.items()
        }
    submitted = st.form_submit_button("Refine", type="primary")


def run_one(model_name: str, container, title: str | None) -> str | None:
    """Run and stream one refinement; returns its run id (kept even when it failed), or None
    if it could not start."""
    info = next(m for m in usable if m.name == model_name)
    view = RunView(container, title)
    try:
        templates = {kind: template_from_text(kind, text) for kind, text in edited.items()}
        backend = resources.backend(info)
    except PerficsError as exc:
        container.error(str(exc))
        return None
    outcome = refine(
        backend,
        RefineRequest(prompt, int(rounds), settings, templates, stop_early),
        on_step=lambda s: view.on_step(s.round, s.kind, s.text),
        on_token=view.on_token,
    )
    if outcome.error is not None:
        container.error(str(outcome.error))
    return outcome.run_id


if submitted:
    models = [model_a, model_b] if compare else [model_a]
    if compare and model_a == model_b:
        st.warning("Both sides use the same model; pick two different models to compare.")
    columns = st.columns(len(models)) if compare else [st.container()]
    st.session_state["refine_shown"] = [
        run_one(name, col, name if compare else None)
        for name, col in zip(models, columns, strict=True)
    ]
    st.session_state["refine_live"] = True
else:
    st.session_state["refine_live"] = False


def show_run(run_id: str, container, with_title: bool, draw_steps: bool) -> None:
    stored = stored_refinement(run_id)
    run, steps = stored.run, stored.steps
    with container:
        if draw_steps:
            show_steps(
                steps, RunView(st.container(), run.config.model.name if with_title else None)
            )
        if run.status != "completed":
            st.error(
                f"Run {run.status}: {run.error or 'no error text'}. "
                f"{len(steps)} finished step(s) were kept."
            )
        if len(steps):
            show_summary(stored)


shown = [r for r in st.session_state.get("refine_shown", []) if r]
if shown:
    columns = st.columns(len(shown)) if len(shown) > 1 else [st.container()]
    for run_id, col in zip(shown, columns, strict=True):
        try:
            show_run(run_id, col, len(shown) > 1, draw_steps=not st.session_state["refine_live"])
        except PerficsError as exc:
            st.error(str(exc))

st.divider()
st.subheader("History")
try:
    history = refine_history()
except PerficsError as exc:
    st.error(str(exc))
    st.stop()
if history.empty:
    st.caption("No refinements yet.")
else:
    labels = {
        r.id: f"{r.created_at:%Y-%m-%d %H:%M} · {r.model} · {r.status} · {r.prompt[:60]}"
        for r in history.itertuples()
    }
    picked = st.selectbox(
        "Past refinements", list(labels), format_func=labels.get, key="refine_history_pick"
    )
    if st.button("Open", key="refine_history_open"):
        st.session_state["refine_shown"] = [picked]
        st.rerun()
