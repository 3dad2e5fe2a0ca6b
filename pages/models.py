"""Models: the model files and endpoints, the endpoints' settings, and a box to try one."""

import time

import streamlit as st

from core.app.generate import EXAMPLE_SCHEMA, generate, schema_from_text
from core.app.options import default_model
from core.errors import PerficsError
from pages.components import resources
from pages.components.adapter_table import adapter_section
from pages.components.endpoint_editor import endpoint_section
from pages.components.model_table import label_format, model_table, other_files
from pages.components.quick_start import quick_start
from pages.components.sampler import sampler_inputs
from pages.components.text import show_model_text
from pages.components.token_view import generation_tokens

st.title("Models")

models = resources.model_list()
if models:
    model_table(models)
else:
    st.warning(
        "No .gguf files found. Run `make run` to place the default models, or copy GGUF files "
        "into the models folder (or set PERFICS_MODELS_DIR) and press *Rescan models*."
    )
unusable = [m for m in models if not m.usable]
if unusable:
    st.warning(f"{len(unusable)} model(s) cannot be used; the *Why not usable* column says why.")
adapter_section(models)
endpoint_section()
other_files(resources.other_model_files())

usable = [m for m in models if m.usable]
if not usable:
    st.stop()
quick_start("models", gentle=True)  # a first benchmark, offered while the store has none

st.subheader("Try it")
default = default_model(usable)
with st.form("models_try"):
    names = [m.name for m in usable]
    name = st.selectbox(
        "Model",
        names,
        index=names.index(default.name) if default else 0,
        format_func=label_format(usable),
        key="models_model",
    )
    prompt = st.text_area(
        "Prompt", "Explain in two sentences why the sky is blue.", key="models_prompt"
    )
    settings = sampler_inputs(st.columns(3), "models", 200, "Max tokens", (1, 4096))
    with st.expander("Force JSON output"):
        force_json = st.checkbox("Output must be JSON matching this schema", key="models_json")
        schema_text = st.text_area("JSON schema", EXAMPLE_SCHEMA, height=150, key="models_schema")
    submitted = st.form_submit_button("Generate", type="primary")

if submitted:
    info = next(m for m in usable if m.name == name)
    if not info.has_chat_template:
        st.info(f"{name} has no chat template; it gets the plain User/Assistant transcript.")
    out = st.empty()
    streamed: list[str] = []
    last_draw = 0.0

    def show(piece: str) -> None:
        global last_draw
        streamed.append(piece)
        if time.monotonic() - last_draw > 0.05:
            show_model_text(out, "".join(streamed))
            last_draw = time.monotonic()

    try:
        schema = schema_from_text(schema_text) if force_json else None
        outcome = generate(resources.backend(info), prompt, settings, show, schema=schema)
        st.session_state["models_last"] = outcome
    except PerficsError as exc:
        st.session_state.pop("models_last", None)  # the answer below would be from before
        st.error(str(exc))
    out.empty()

last = st.session_state.get("models_last")
if last is not None:
    gen = last.generation
    show_model_text(st, gen.text)
    if last.schema is not None:
        st.success("The output is JSON that matches the schema.")
        st.json(last.value)
    m = st.columns(6)
    m[0].metric("Completion tokens", gen.completion_tokens)
    m[1].metric("Tokens/s", f"{gen.gen_tokens_per_s:.1f}" if gen.gen_tokens_per_s else "–")
    m[2].metric("Time to first token", f"{gen.ttft_s:.2f} s")
    m[3].metric("Total", f"{gen.total_s:.2f} s")
    m[4].metric("Prompt evaluated", f"{gen.prompt_tokens_evaluated}/{gen.prompt_tokens}")
    m[5].metric(
        "Model memory",
        f"{gen.model_memory_mb:,.0f} MB" if gen.model_memory_mb is not None else "–",
        help="Resident memory this model added when it was loaded (weights, KV cache and "
        "buffers), not the whole app's.",
    )
    st.caption(
        f"{gen.model_name} · finish: {gen.finish_reason} · seed {gen.settings.seed} · "
        f"{gen.llama_cpp_version} · format: {gen.prompt_format}"
    )
    model = next((m for m in usable if m.name == gen.model_name), None)
    generation_tokens("models", last.generation_id, model, gen)
