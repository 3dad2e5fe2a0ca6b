"""Benchmarks: import question suites, start runs in the background, watch and resume them."""

import tempfile
from pathlib import Path

import streamlit as st

from core.engine import llama_cpp_version
from core.errors import PerficsError
from core.judge import default_judge
from core.records import SamplerSettings
from core.refine import DEFAULT_ROUNDS, MAX_ROUNDS
from core.runner import RunSpec, create_run, ensure_builtin_suite, launch, overview
from core.suites import CATEGORIES, load_file
from pages import resources

st.title("Benchmarks")
store = resources.store()
try:
    ensure_builtin_suite(store)
    suites = store.list_suites()
except PerficsError as exc:
    st.error(str(exc))
    st.stop()

with st.expander("Import a question suite (FastChat question.jsonl, MT-bench, CSV or JSONL)"):
    upload = st.file_uploader("Question file", type=["jsonl", "json", "csv"], key="bench_upload")
    suite_name = st.text_input(
        "Suite name", key="bench_suite_name", placeholder="defaults to the file name"
    )
    skip_invalid = st.checkbox(
        "Import the valid rows and skip the invalid ones", key="bench_skip_invalid"
    )
    if st.button("Import", key="bench_import", disabled=upload is None):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / upload.name
            path.write_bytes(upload.getvalue())
            try:
                questions, skipped = load_file(path, skip_invalid=skip_invalid)
                name = suite_name.strip() or path.stem
                store.save_suite(name, upload.name, questions)
                st.success(f"Imported {len(questions)} questions into suite '{name}'.")
                for err in skipped:
                    st.warning(f"Skipped {err}")
                suites = store.list_suites()
            except PerficsError as exc:
                st.error(str(exc))
st.dataframe(suites, hide_index=True, width="stretch")

usable = [m for m in resources.model_list() if m.usable]
names = [m.name for m in usable]
judge_default = default_judge(usable)
with st.form("bench_new"):
    st.subheader("New run")
    c1, c2 = st.columns(2)
    suite = c1.selectbox("Suite", list(suites.name), key="bench_suite")
    models = c2.multiselect("Models", names, default=names[:2], key="bench_models")
    c1, c2, c3 = st.columns(3)
    rounds = c1.number_input("Refinement rounds", 0, MAX_ROUNDS, DEFAULT_ROUNDS, key="bench_rounds")
    judge_options = ["(no judge)", *names]
    judge = c2.selectbox(
        "Judge",
        judge_options,
        key="bench_judge",
        index=judge_options.index(judge_default.name) if judge_default else 0,
        help="Defaults to the largest local model.",
    )
    limit = c3.number_input("Questions (0 = all)", 0, 10_000, 0, key="bench_limit")
    categories = st.multiselect("Categories (empty = all)", CATEGORIES, key="bench_categories")
    c1, c2, c3 = st.columns(3)
    max_tokens = c1.number_input("Max tokens per step", 16, 2048, 384, key="bench_max_tokens")
    temperature = c2.slider("Temperature", 0.0, 2.0, 0.7, 0.05, key="bench_temperature")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 42, key="bench_seed")
    start = st.form_submit_button("Start run", type="primary")

if start:
    by_name = {m.name: m for m in usable}
    try:
        spec = RunSpec(
            suite=suite,
            models=tuple(by_name[m] for m in models),
            rounds=int(rounds),
            judge=by_name.get(judge),
            limit=int(limit) or None,
            categories=tuple(categories),
            settings=SamplerSettings(
                temperature=temperature, max_tokens=int(max_tokens), seed=int(seed)
            ),
        )
        if spec.judge and spec.judge.name in models:
            st.info(f"{spec.judge.name} judges its own answers; its scores may favour itself.")
        run_id = create_run(store, spec, llama_cpp_version())
        launch(run_id, resources.settings().db.parent / "logs")
        st.success(f"Started run {run_id} in the background. It keeps going if you leave.")
    except PerficsError as exc:
        st.error(str(exc))


# Poll the store for progress only while some run is working.
active = overview(store).status.isin(["running", "queued"]).any()


@st.fragment(run_every=2.0 if active else None)
def runs_panel() -> None:
    st.subheader("Runs")
    runs = overview(store)
    if runs.empty:
        st.caption("No runs yet.")
        return
    runs["progress"] = runs.items_done / runs.total.clip(lower=1)
    runs["eta"] = [
        f"{e / 60:.1f} min" if e == e and s == "running" else ""
        for e, s in zip(runs.eta_s, runs.status, strict=True)
    ]
    st.dataframe(
        runs[
            [
                "id",
                "created_at",
                "status",
                "suite",
                "models",
                "judge",
                "rounds",
                "items_done",
                "total",
                "progress",
                "eta",
                "error",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={"progress": st.column_config.ProgressColumn(min_value=0, max_value=1)},
    )
    resumable = runs[runs.status.isin(["stale (resumable)", "interrupted", "failed", "queued"])]
    if len(resumable):
        pick = st.selectbox("Resume", list(resumable.id), key="bench_resume_pick")
        if st.button("Resume run", key="bench_resume"):
            launch(pick, resources.settings().db.parent / "logs")
            st.success(f"Resuming {pick}.")


runs_panel()
