"""Benchmarks: import question suites, start runs in the background, watch, stop and resume."""

import streamlit as st

from core.app import runs
from core.app.formatting import estimate_text, eta_short
from core.app.options import (
    CATEGORIES,
    DEFAULT_ROUNDS,
    MAX_ROUNDS,
    base_model_note,
    default_judge,
    judge_choice_reason,
)
from core.errors import PerficsError
from core.types import RunSpec
from pages.components import resources
from pages.components.likelihood_start import likelihood_start
from pages.components.model_table import label_format
from pages.components.notices import NO_USABLE_MODELS
from pages.components.runs_panel import runs_panel
from pages.components.sampler import sampler_inputs
from pages.components.text import escape

st.title("Benchmarks")
try:
    suites = runs.suites()
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

with st.expander("Import a question suite (FastChat question.jsonl, MT-bench, CSV or JSONL)"):
    upload = st.file_uploader("Question file", type=["jsonl", "json", "csv"], key="bench_upload")
    suite_name = st.text_input(
        "Suite name", key="bench_suite_name", placeholder="defaults to the file name"
    )
    skip_invalid = st.checkbox(runs.SKIP_INVALID_LABEL, key="bench_skip_invalid")
    if st.button("Import", key="bench_import", disabled=upload is None):
        try:
            done = runs.import_upload(upload.name, upload.getvalue(), suite_name, skip_invalid)
            st.success(f"Imported {done.questions} questions into suite '{done.name}'.")
            if done.skipped:
                rows = "  \n".join(escape(str(err)) for err in done.skipped)
                st.warning(f"Skipped {len(done.skipped)} invalid row(s):  \n{rows}")
            suites = runs.suites()
        except PerficsError as exc:  # one row a line, as the message lists them
            st.error("  \n".join(escape(line.strip()) for line in str(exc).splitlines()))
st.dataframe(
    suites,
    hide_index=True,
    width="stretch",
    column_config={
        "name": "Suite",
        "source": "Imported from",
        "created_at": st.column_config.DatetimeColumn("Imported (UTC)"),
        "questions": "Questions",
        "categories": "Categories",
        "with_reference": "With a reference",
        "multiple_choice": "Multiple choice",
    },
)

usable = resources.usable_models()
if not usable:  # no run can start: say why, instead of refusing an empty choice of models
    st.warning(NO_USABLE_MODELS)
    runs_panel()
    st.stop()
names = [m.name for m in usable]
local_names = [m.name for m in usable if not m.is_endpoint]  # picked by default
judge_default = default_judge(usable)
# No st.form: Enter in a field only applies the value. A run starts from its own button,
# which names the run's size and expected time, worked out from the fields as they are.
st.subheader("New run")
c1, c2 = st.columns(2)
suite = c1.selectbox("Suite", list(suites.name), key="bench_suite")
label = label_format(usable)
models = c2.multiselect(
    "Models", names, default=local_names[:2], format_func=label, key="bench_models"
)
c1, c2, c3 = st.columns(3)
rounds = c1.number_input("Refinement rounds", 0, MAX_ROUNDS, DEFAULT_ROUNDS, key="bench_rounds")
judge_options = ["(no judge)", *names]
judge = c2.selectbox(
    "Judge",
    judge_options,
    key="bench_judge",
    index=judge_options.index(judge_default.name) if judge_default else 0,
    format_func=label,
    help="Defaults to the largest instruction-tuned model: base models make weak judges.",
)
limit = c3.number_input(
    "Questions (0 = all)",
    0,
    10_000,
    0,
    key="bench_limit",
    help="K questions spread over the categories (seeded by the sample seed)",
)
categories = st.multiselect("Categories (empty = all)", CATEGORIES, key="bench_categories")
c1, c2 = st.columns([3, 1])
stop_early = c1.checkbox(
    "Stop early when the critique finds nothing to fix",
    value=False,
    key="bench_stop_early",
    help="Off: the paper's fixed-round protocol, every answer gets all its critique-and-"
    "rewrite rounds. On: an answer stops once its critique finds nothing to fix or the "
    "rewrite stops changing, which is cheaper but not the paper's protocol.",
)
sample_seed = c2.number_input(
    "Sample seed", 0, 2**31 - 1, 0, key="bench_sample_seed", help="Which questions are drawn."
)
if judge_default:
    st.caption(f"Judge `auto`: {judge_choice_reason(judge_default, usable)}")
settings = sampler_inputs(st.columns(3), "bench")

by_name = {m.name: m for m in usable}
spec = plan = None
try:
    spec = RunSpec(
        suite=suite,
        models=tuple(by_name[m] for m in models),
        rounds=int(rounds),
        judge=by_name.get(judge),
        limit=int(limit) or None,
        categories=tuple(categories),
        settings=settings,
        stop_early=stop_early,
        sample_seed=int(sample_seed),
    )
    plan = runs.estimate(spec)
    st.markdown(f"**This run:** {estimate_text(plan)}")
    if spec.judge and spec.judge.name in models:
        st.info(f"{spec.judge.name} judges its own answers; its scores may favour itself.")
    if base_model_note(spec.judge):
        st.warning(base_model_note(spec.judge))
except PerficsError as exc:
    st.error(str(exc))
label = f"Start run ({plan.units} units, {eta_short(plan)})" if plan else "Start run"
if st.button(label, key="bench_start", type="primary", disabled=plan is None):
    try:
        run_id = runs.start_run(spec)
        st.session_state["bench_manage"] = run_id
        st.success(f"Started run {run_id} in the background. It keeps going if you leave.")
    except PerficsError as exc:
        st.error(str(exc))

likelihood_start(suites, usable)
runs_panel()
