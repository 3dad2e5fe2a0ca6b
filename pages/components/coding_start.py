"""The Classify page's new coding run: models code (a seeded sample of) a dataset with a
codebook, zero- or k-shot, single- or multi-label. Its size and expected time are shown
before the Start button, which names them too."""

from __future__ import annotations

import streamlit as st

from core.app import classify
from core.app.formatting import duration
from core.errors import PerficsError
from core.types.classification import CodingSpec
from pages.components import resources
from pages.components.classify_data import show_error
from pages.components.model_table import label_format

MAX_SHOTS = 20
SINGLE, MULTI = "Single label", "Multi-label"


def plan_text(texts: int, units: int, models: int, seconds: float | None) -> str:
    size = f"{texts} text{'s' * (texts != 1)} × {models} model{'s' * (models != 1)} = {units} units"
    if seconds is None:
        return (
            f"{size} · time unknown: no earlier measurement of these models coding this "
            "dataset with this codebook"
        )
    return f"{size} · about {duration(seconds)}, from earlier coding of this dataset"


def _spec(datasets: list[str], codebooks: list[str]) -> CodingSpec:
    usable = resources.usable_models()
    by_name = {m.name: m for m in usable}
    c1, c2, c3 = st.columns([2, 2, 3])
    dataset = c1.selectbox("Dataset", datasets, key="cls_run_dataset")
    codebook = c2.selectbox("Codebook", codebooks, key="cls_run_codebook")
    local = [m.name for m in usable if not m.is_endpoint]  # picked by default
    models = c3.multiselect(
        "Models", list(by_name), local[:2], label_format(usable), key="cls_run_models"
    )
    c1, c2, c3, c4, c5 = st.columns([1, 2, 1, 1, 1])
    shots = c1.number_input(
        "Shots",
        0,
        MAX_SHOTS,
        0,
        key="cls_run_shots",
        help="Examples in each prompt, drawn (seeded) from other texts' verified or gold labels.",
    )
    mode = c2.radio("Labels per text", [SINGLE, MULTI], horizontal=True, key="cls_run_mode")
    intensities = c3.checkbox(
        "Intensities",
        key="cls_run_intensities",
        disabled=mode != MULTI,
        help="Multi-label only: each label is also rated low, medium or high.",
    )
    sample = c4.number_input(
        "Sample (0 = all)", 0, 1_000_000, 0, key="cls_run_sample", help="A seeded sample."
    )
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key="cls_run_seed")
    return CodingSpec(
        dataset=dataset,
        codebook=codebook,
        models=tuple(by_name[m] for m in models),
        shots=int(shots),
        multi_label=mode == MULTI,
        intensities=bool(intensities) and mode == MULTI,
        sample=int(sample) or None,
        seed=int(seed),
    )


def coding_start(datasets: list[str], codebooks: list[str]) -> None:
    st.subheader("New coding run")
    if not datasets or not codebooks:
        st.info("A coding run needs a dataset and a codebook: import both above.")
        return
    spec = _spec(datasets, codebooks)
    label = "Start coding"
    try:
        texts, units, seconds = classify.plan(spec)
        st.markdown(f"**This run:** {plan_text(texts, units, len(spec.models), seconds)}")
        when = f"about {duration(seconds)}" if seconds is not None else "time unknown"
        label = f"Start coding ({units} units, {when})"
    except PerficsError as exc:
        show_error(exc)
        spec = None
    if st.button(label, key="cls_run_start", type="primary", disabled=spec is None):
        try:
            run_id = classify.start(spec)
            st.session_state["cls_manage"] = run_id
            st.success(
                f"Started coding run {run_id} in the background. It keeps going if you leave."
            )
        except PerficsError as exc:
            show_error(exc)
