"""The Fine-tune page's new run: dataset, codebook, base model and label source, the LoRA
settings (defaults of LoraSettings; the less common ones in an expander), the training size
and the adapter's name, with the plan (texts and steps) shown before the Start button."""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from core.app import classify, finetune
from core.errors import PerficsError
from core.types.classification import VerifyRule
from core.types.finetune import FinetuneSpec, LoraSettings
from core.types.learning import LabelSource
from pages.components import resources
from pages.components.classify_data import show_error
from pages.components.text import escape

# Which labels to learn: a radio's choice -> (its caption, label source, verification rule)
LABELS = {
    "verified": ("Verified (one reviewer)", LabelSource.VERIFIED, VerifyRule.ONE),
    "verified_two": ("Verified (two agree)", LabelSource.VERIFIED, VerifyRule.TWO_AGREE),
    "gold": ("Gold (imported)", LabelSource.GOLD, VerifyRule.ONE),
}
# label, lowest, highest, help; the value's type is the default's (int or float)
SETTINGS = {
    "rank": ("Rank r", 1, 256, "Size of the low-rank update of each linear layer."),
    "alpha": ("Alpha", 0.5, 1024.0, "The update is scaled by alpha / rank."),
    "epochs": ("Epochs", 1, 100, "Passes over the training texts."),
    "learning_rate": ("Learning rate", 1e-6, 1.0, "AdamW, constant."),
    "dropout": ("Dropout", 0.0, 0.9, "On the LoRA input."),
    "batch_size": ("Batch size", 1, 64, "Texts per optimiser step."),
    "max_tokens": ("Max tokens", 32, 8192, "Longest example; texts are cut, never answers."),
    "validation_share": ("Validation share", 0.01, 0.9, "Texts held back to measure loss."),
    "seed": ("Seed", 0, 2**31 - 1, "For the split, subset, shuffles and adapter's start."),
    "checkpoint_every": ("Checkpoint every", 1, 100_000, "Steps; resume restarts there."),
    "threads": ("Threads", 1, 256, "Torch threads; resume with as many for equal losses."),
}
MAIN = ("rank", "alpha", "epochs", "learning_rate")
FORMATS = {"learning_rate": "%.1e", "alpha": "%.1f", "dropout": "%.2f", "validation_share": "%.2f"}


def _setting(column, name: str, default) -> int | float:
    label, low, high, help_text = SETTINGS[name]
    kind = type(default)
    return kind(
        column.number_input(
            label,
            kind(low),
            kind(high),
            default,
            key=f"ft_{name}",
            help=help_text,
            format=FORMATS.get(name),
            step=default / 10 if name == "learning_rate" else None,
        )
    )


def _settings() -> LoraSettings:
    defaults = LoraSettings()
    chosen = {}
    for column, name in zip(st.columns(len(MAIN)), MAIN, strict=True):
        chosen[name] = _setting(column, name, getattr(defaults, name))
    with st.expander("Advanced settings"):
        rest = [f.name for f in fields(LoraSettings) if f.name not in MAIN]
        columns = st.columns(4)
        for i, name in enumerate(rest):
            chosen[name] = _setting(columns[i % 4], name, getattr(defaults, name))
    return LoraSettings(**chosen)


def _spec(datasets: list[str], codebooks: list[str]) -> FinetuneSpec | None:
    by_name = {m.name: m for m in finetune.trainable(resources.model_list())}
    if not by_name:
        st.info("No model to fine-tune: no usable model file of an architecture LoRA supports.")
        return None
    c1, c2, c3 = st.columns([2, 2, 3])
    dataset = c1.selectbox("Dataset", datasets, key="ft_dataset")
    codebook = c2.selectbox("Codebook", codebooks, key="ft_codebook")
    model = c3.selectbox("Base model", list(by_name), key="ft_model")
    c1, c2, c3 = st.columns([3, 1, 2])
    labels = c1.radio(
        "Labels", list(LABELS), format_func=lambda k: LABELS[k][0], horizontal=True, key="ft_source"
    )
    _, source, rule = LABELS[labels]
    size = c2.number_input(
        "Training texts (0 = all)", 0, 10_000_000, 0, key="ft_train_size", help="A seeded subset."
    )
    default_name = finetune.default_adapter_name(codebook, source)
    name = c3.text_input(
        "Adapter name", key="ft_name", placeholder=default_name, help="Empty: " + default_name
    )
    settings = _settings()
    return FinetuneSpec(
        name=name.strip() or default_name,
        dataset=dataset,
        codebook=codebook,
        model=by_name[model],
        source=source,
        rule=rule,
        train_size=int(size) or None,
        settings=settings,
    )


def finetune_start() -> None:
    st.subheader("New fine-tuning run")
    datasets = list(classify.datasets().get("name", []))
    codebooks = list(classify.codebooks().get("name", []))
    if not datasets or not codebooks:
        st.info("Fine-tuning needs a dataset with labels and a codebook: see Classify.")
        return
    spec = _spec(datasets, codebooks)
    label = "Start fine-tuning"
    try:
        if spec is not None:
            planned = finetune.plan(spec)
            st.markdown(
                f"**This run:** adapter `{spec.name}` on {escape(spec.model.name)}: "
                f"{planned.train_texts} training texts, {planned.validation_texts} for "
                f"validation; {planned.steps} optimiser steps"
            )
            label = f"Start fine-tuning ({planned.steps} steps)"
    except PerficsError as exc:
        show_error(exc)
        spec = None
    if st.button(label, key="ft_start", type="primary", disabled=spec is None):
        try:
            run_id = finetune.start(spec)
            st.session_state["ft_run"] = run_id
            st.success(f"Started run {run_id} in the background. It keeps going if you leave.")
        except PerficsError as exc:
            show_error(exc)
