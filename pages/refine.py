"""Refine: a model answers, critiques its own answer and rewrites it, live and side by side."""

import streamlit as st

from core.errors import PerficsError
from core.models import default_model
from core.records import SamplerSettings
from core.refine import DEFAULT_ROUNDS, MAX_ROUNDS, run_refinement
from core.templates import DEFAULTS, from_text
from pages import resources
from pages.refine_view import RunView, show_steps, show_summary

st.title("Self-refinement")
st.caption(
    "The model answers, critiques its own answer with no rubric and no outside help, "
    "and rewrites it, round after round."
)

usable = [m for m in resources.model_list() if m.usable]
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
    c1, c2, c3, c4 = st.columns(4)
    rounds = c1.number_input("Rounds", 0, MAX_ROUNDS, DEFAULT_ROUNDS, key="refine_rounds")
    temperature = c2.slider("Temperature", 0.0, 2.0, 0.7, 0.05, key="refine_temperature")
    max_tokens = c3.number_input("Max tokens per step", 16, 2048, 384, key="refine_max_tokens")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 42, key="refine_seed")
    with st.expander("Critique and rewrite prompts (editing one saves it under a new id)"):
        edited = {
            kind: st.text_area(f"{kind} template ({t.id})", t.text, key=f"refine_tpl_{kind}")
            for kind, t in DEFAULTS.items()
        }
    submitted = st.form_submit_button("Refine", type="primary")


def run_one(model_name: str, container, title: str | None) -> str | None:
    """Run and stream one refinement; returns its run id, or None if it could not start."""
    info = next(m for m in usable if m.name == model_name)
    view = RunView(container, title)
    store = resources.store()
    try:
        templates = {kind: from_text(kind, text) for kind, text in edited.items()}
        settings = SamplerSettings(
            temperature=temperature, max_tokens=int(max_tokens), seed=int(seed)
        )
        store.init()
        run_id, _ = run_refinement(
            store,
            resources.backend(info),
            prompt,
            int(rounds),
            settings,
            on_step=lambda s: view.on_step(s.round, s.kind, s.text),
            on_token=view.on_token,
            templates=templates,
        )
        return run_id
    except PerficsError as exc:
        container.error(str(exc))
        failed = store.list_runs("refine", limit=1)
        return failed.id.iloc[0] if len(failed) and failed.status.iloc[0] == "failed" else None


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
    store = resources.store()
    run = store.get_run(run_id)
    steps = store.run_steps(run_id)
    with container:
        if draw_steps:
            title = run["config"].get("model") if with_title else None
            show_steps(steps, RunView(st.container(), title))
        if run["status"] != "completed":
            st.error(
                f"Run {run['status']}: {run['error'] or 'no error text'}. "
                f"{len(steps)} finished step(s) were kept."
            )
        if len(steps):
            show_summary(steps, run["stop_reason"])


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
    history = resources.store().list_runs("refine")
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
