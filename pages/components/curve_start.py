"""The Learn page's new learning curve: dataset, codebook, models, methods, training sizes,
repeats and k, with the plan (held-out texts, pool, points) shown before the Start button."""

from __future__ import annotations

import streamlit as st

from core.app import classify, learn_curve
from core.errors import PerficsError
from core.types.classification import VerifyRule
from core.types.curves import (
    DEFAULT_REPEATS,
    DEFAULT_SHOTS,
    DEFAULT_SIZES,
    CurveMethod,
    CurveSpec,
)
from core.types.learning import LabelSource
from pages.components import resources
from pages.components.classify_data import show_error
from pages.components.model_table import label_format

METHOD_LABELS = {
    CurveMethod.KSHOT: "k-shot prompting",
    CurveMethod.PROBE: "embedding probe",
    CurveMethod.LORA: "LoRA fine-tuning",
}
SIZE_CHOICES = (0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
SOURCES = {LabelSource.VERIFIED: "Verified (reviewers)", LabelSource.GOLD: "Gold (imported)"}


def _methods() -> tuple[CurveMethod, ...]:
    offered = [
        m for m in CurveMethod if m != CurveMethod.LORA or not learn_curve.lora_unavailable()
    ]
    chosen = st.multiselect(
        "Methods",
        offered,
        default=[m for m in offered if m != CurveMethod.LORA],
        format_func=METHOD_LABELS.get,
        key="learn_methods",
        help=learn_curve.lora_unavailable(),
    )
    return tuple(chosen)


def _spec(datasets: list[str], codebooks: list[str]) -> CurveSpec:
    usable = resources.usable_models()
    by_name = {m.name: m for m in usable}
    local = [m.name for m in usable if not m.is_endpoint]  # picked by default
    c1, c2, c3 = st.columns([2, 2, 3])
    dataset = c1.selectbox("Dataset", datasets, key="learn_dataset")
    codebook = c2.selectbox("Codebook", codebooks, key="learn_codebook")
    models = c3.multiselect(
        "Models", list(by_name), local[:1], label_format(usable), key="learn_models"
    )
    c1, c2 = st.columns([3, 2])
    with c1:
        methods = _methods()
    source = c2.radio(
        "Labels", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="learn_source"
    )
    c1, c2 = st.columns([4, 1])
    sizes = c1.multiselect(
        "Training sizes n", SIZE_CHOICES, default=list(DEFAULT_SIZES), key="learn_sizes"
    )
    include_all = c2.checkbox("and all", value=True, key="learn_all", help="the whole pool")
    c1, c2, c3, c4 = st.columns(4)
    repeats = c1.number_input("Repeats", 1, 20, DEFAULT_REPEATS, key="learn_repeats")
    shots = c2.number_input("k (examples)", 1, 20, DEFAULT_SHOTS, key="learn_k")
    held_out = c3.number_input("Held-out texts (0 = 20 %)", 0, 100_000, 0, key="learn_held")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 0, key="learn_seed")
    return CurveSpec(
        dataset=dataset,
        codebook=codebook,
        models=tuple(by_name[m] for m in models),
        methods=methods,
        sizes=tuple(sorted(sizes)),
        include_all=include_all,
        repeats=int(repeats),
        shots=int(shots),
        source=LabelSource(source),
        rule=VerifyRule.ONE,
        seed=int(seed),
        held_out=int(held_out) or None,
    )


def curve_start() -> None:
    st.subheader("New learning curve")
    datasets = list(classify.datasets().get("name", []))
    codebooks = list(classify.codebooks().get("name", []))
    if not datasets or not codebooks:
        st.info("A learning curve needs a dataset with labels and a codebook: see Classify.")
        return
    spec = _spec(datasets, codebooks)
    label = "Start curve"
    try:
        config, points = learn_curve.plan(spec)
        st.markdown(
            f"**This curve:** {len(config.held_out_ids)} held-out texts, a pool of "
            f"{config.pool_size} to learn from; n = {', '.join(map(str, config.sizes))}; "
            f"{points} points ({len(config.models)} model(s) × {len(config.methods)} "
            f"method(s) × sizes × repeats)"
        )
        label = f"Start curve ({points} points)"
    except PerficsError as exc:
        show_error(exc)
        spec = None
    if st.button(label, key="learn_start", type="primary", disabled=spec is None):
        try:
            run_id = learn_curve.start_curve(spec)
            st.session_state["learn_run"] = run_id
            st.success(f"Started curve {run_id} in the background. It keeps going if you leave.")
        except PerficsError as exc:
            show_error(exc)
