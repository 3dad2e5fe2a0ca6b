"""Refine: a model answers, critiques its own answer and rewrites it, live and side by side."""

import streamlit as st

from core.app import context
from core.app import refine as use
from core.app.options import DEFAULT_ROUNDS, MAX_ROUNDS, default_model, template_from_text
from core.errors import PerficsError
from core.types import RefineRequest
from pages.components import resources
from pages.components.model_table import label_format
from pages.components.refine_view import (
    RunView,
    base_model_warning,
    history_picker,
    show_runs,
    template_inputs,
)
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
by_name = {m.name: m for m in usable}
default_index = names.index(default_model(usable).name) if default_model(usable) else 0
label = label_format(usable)
# One step can never write more than the context the models are loaded with.
n_ctx = context.settings().n_ctx
token_cap = min(n_ctx, max(m.context_length or n_ctx for m in usable))

with st.form("refine_form"):
    prompt = st.text_area(
        "Prompt", "Give me three tips for writing a clear email.", key="refine_prompt"
    )
    compare = st.toggle("Compare two models", key="refine_compare")
    c1, c2 = st.columns(2)
    model_a = c1.selectbox("Model", names, default_index, label, key="refine_model")
    second = (default_index + 1) % len(names)
    model_b = c2.selectbox(
        "Second model (compare mode)", names, second, label, key="refine_model_b"
    )
    c1, *rest = st.columns(4)
    rounds = c1.number_input("Rounds", 0, MAX_ROUNDS, DEFAULT_ROUNDS, key="refine_rounds")
    settings = sampler_inputs(
        [rest[1], rest[0], rest[2]], "refine", min(384, token_cap), max_tokens_range=(16, token_cap)
    )
    stop_early = st.checkbox(
        "Stop early when the critique finds nothing to fix",
        value=True,
        key="refine_stop_early",
        help="Off: every round critiques and rewrites, as in the paper's fixed-round protocol.",
    )
    edited = template_inputs()
    submitted = st.form_submit_button("Refine", type="primary")


def remember(key: str, value: str) -> None:
    st.session_state[key] = [*st.session_state[key], value]


def stop_clicked() -> None:
    """Runs before the rerun the click causes, after the interrupted run was stored."""
    try:
        use.stopped_by_user(st.session_state.get("refine_shown", []))
    except PerficsError as exc:
        remember("refine_refused", str(exc))


def run_one(model_name: str, container, compare: bool) -> None:
    """Run and stream one refinement. Its run id goes into the session as soon as the run
    exists, so a Stop (which reruns this script part-way) still finds it; a request refused
    before a run existed leaves its message instead."""
    view = RunView(
        container,
        model_name if compare else None,
        int(rounds),
        base_model_warning(by_name.get(model_name)),
    )
    view.waiting(f"Loading {model_name}…")
    try:
        templates = {kind: template_from_text(kind, text) for kind, text in edited.items()}
        backend = resources.backend(by_name[model_name])
    except PerficsError as exc:
        remember("refine_refused", f"{model_name}: {exc}")
        return
    view.now(0, "baseline")
    outcome = use.refine(
        backend,
        RefineRequest(prompt, int(rounds), settings, templates, stop_early),
        on_step=lambda s: view.on_step(s.round, s.kind, s.text),
        on_token=view.on_token,
        on_start=lambda run_id: remember("refine_shown", run_id),
    )
    if outcome.run_id is None:
        remember("refine_refused", str(outcome.error))
    view.done()


# The live run is drawn in its own slot and cleared when it ends; the stored run(s) below.
# (A container that replaced it in the same slot would inherit the live elements.)
live, output = st.empty(), st.container()
if submitted:
    # Nothing from an earlier run may stay on screen under this one's output or error.
    st.session_state.update(refine_shown=[], refine_refused=[], refine_history_newest=True)
    models = [model_a, model_b] if compare else [model_a]
    with live.container():
        st.divider()
        if compare and model_a == model_b:
            st.warning("Both sides use the same model; pick two different models to compare.")
        stop = st.empty()
        stop.button(
            "Stop",
            key="refine_stop",
            help="End the refinement now; its finished steps are kept.",
            on_click=stop_clicked,
        )
        columns = st.columns(len(models)) if compare else [st.container()]
        for name, col in zip(models, columns, strict=True):
            run_one(name, col, compare)
    live.empty()

shown = st.session_state.get("refine_shown", [])
refused = st.session_state.get("refine_refused", [])
if shown or refused:
    with output:
        st.divider()
        for message in refused:
            st.error(message)
        try:
            if not submitted:  # a run this page drove may still be ending (Stop, a rerun)
                with st.spinner("Stopping: the run ends at its next token…"):
                    use.wait_for_end(shown)
            show_runs([use.stored_refinement(run_id) for run_id in shown], by_name)
        except PerficsError as exc:
            st.error(str(exc))

st.divider()
st.subheader("History")
try:
    history = use.refine_history()
except PerficsError as exc:
    st.error(str(exc))
    st.stop()
if history.empty:
    st.caption("No refinements yet.")
elif opened := history_picker(history, newest=st.session_state.pop("refine_history_newest", False)):
    st.session_state.update(refine_shown=[opened], refine_refused=[])
    st.rerun()
