"""The Benchmarks page's likelihood run: each model scores every multiple-choice option, or
the reference answer, of a suite's questions; no generation and no judge. It runs in the
background worker like a benchmark and appears in the same list of runs (Stop, Resume,
Delete)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import likelihood
from core.app.formatting import duration
from core.app.options import local_models
from core.errors import PerficsError
from core.types import LikelihoodPlan, LikelihoodSpec, ModelInfo


def _plan_text(plan: LikelihoodPlan) -> str:
    text = (
        f"{plan.units} units ({plan.mc_units} multiple-choice, {plan.reference_units} "
        f"reference answers) on {plan.questions} questions"
    )
    if plan.left_out:
        text += f"; {plan.left_out} question(s) without choices or a reference answer left out"
    if plan.seconds is None:
        return f"{text} · time unknown: no likelihood units measured yet for these models"
    return f"{text} · about {duration(plan.seconds)}, from earlier units (n={plan.measured_units})"


def likelihood_start(suites: pd.DataFrame, usable: list[ModelInfo]) -> None:
    with st.expander("Likelihood run: quality without a judge (docs/likelihood.md)"):
        st.caption(
            "Multiple-choice questions: each choice is scored after “Question: …\\nAnswer:”, "
            "the likeliest one is the model's answer (acc, and acc_norm per character). "
            "Questions with a reference answer: its bits per byte under the model. "
            "Deterministic; nothing is generated."
        )
        usable = local_models(usable)  # scoring reads token probabilities from the file
        names = [m.name for m in usable]
        c1, c2, c3 = st.columns([1, 2, 1])
        suite = c1.selectbox("Suite", list(suites.name), key="bench_lk_suite")
        models = c2.multiselect("Models", names, default=names[:2], key="bench_lk_models")
        limit = c3.number_input("Questions (0 = all)", 0, 10_000, 0, key="bench_lk_limit")
        by_name = {m.name: m for m in usable}
        spec = plan = None
        try:
            spec = LikelihoodSpec(
                suite=suite, models=tuple(by_name[m] for m in models), limit=int(limit) or None
            )
            plan = likelihood.plan(spec)
            st.markdown(f"**This run:** {_plan_text(plan)}")
        except PerficsError as exc:
            st.error(str(exc))
        label = f"Start likelihood run ({plan.units} units)" if plan else "Start likelihood run"
        if st.button(label, key="bench_lk_start", disabled=plan is None):
            try:
                run_id = likelihood.start(spec)
                st.session_state["bench_manage"] = run_id
                st.success(f"Started likelihood run {run_id} in the background.")
            except PerficsError as exc:
                st.error(str(exc))
