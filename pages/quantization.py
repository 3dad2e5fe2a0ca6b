"""Quantization: write a model's quantized copies and compare them side by side."""

import streamlit as st

from core.app import ladder
from core.app.quantization import quantizable
from core.app.runs import state_of
from core.errors import PerficsError
from pages.components.ladder_view import ladder_view
from pages.components.resources import usable_models
from pages.components.text import escape

st.title("Quantization")
st.caption(
    "Quantize a model with llama.cpp's own quantizer and measure every copy on the same text: "
    "size, memory, speed, perplexity, and how far its predictions drift from the source (KL "
    "divergence). Copies are written next to the source in the models folder."
)
if notice := st.session_state.pop("quant_notice", None):
    st.info(notice)

models = quantizable(usable_models())
if not models:
    st.warning("No usable model in the models folder.")
    st.stop()

with st.expander("Build a ladder", expanded=True):
    source = st.selectbox("Source model", [m.name for m in models], key="quant_source")
    types = st.multiselect(
        "Types, highest precision first",
        ladder.type_names(),
        default=list(ladder.DEFAULT_LADDER),
        key="quant_types",
    )
    kind = st.radio(
        "Measure on", ["A suite", "Pasted text", "A text file"], horizontal=True, key="quant_kind"
    )
    text, label, quality_suite = "", "", None
    try:
        if kind == "A suite":
            suite = st.selectbox("Suite", ladder.suite_names(), key="quant_suite")
            if suite:
                text, label = ladder.suite_text(suite), f"suite {suite}"
                quality_suite = suite
        elif kind == "Pasted text":
            text = st.text_area("Text", key="quant_text", height=150)
            label = "pasted text"
        else:
            upload = st.file_uploader("UTF-8 text file", type=["txt", "md"], key="quant_file")
            if upload is not None:
                text, label = ladder.uploaded_text(upload.getvalue(), upload.name)
    except PerficsError as exc:
        st.error(str(exc))
    c1, c2 = st.columns(2)
    ctx = c1.number_input("Chunk size (tokens)", 16, 4096, 512, 16, key="quant_ctx")
    requantized = ladder.source_is_quantized(source)
    allow = c2.checkbox(
        "Allow requantizing",
        value=False,
        key="quant_allow",
        disabled=not requantized,
        help="The source is already quantized: copies can only show loss relative to it.",
    )
    if requantized:
        st.caption(
            f"{escape(source)} is already quantized; its copies measure loss relative to it."
        )
    start = st.button(
        f"Start ladder ({len(types)} type{'' if len(types) == 1 else 's'} + the source)",
        type="primary",
        key="quant_start",
        disabled=not types or not text.strip() or (requantized and not allow),
    )
    if start:
        try:
            with st.spinner("Reading the text with the source's tokenizer…"):
                run_id, used_ctx = ladder.plan(
                    source, tuple(types), text, label, ctx, allow, quality_suite
                )
            pid = ladder.start(run_id)
            shrunk = (
                f" The text is short, so chunks are {used_ctx} tokens." if used_ctx != ctx else ""
            )
            st.session_state["quant_pick"] = run_id
            st.session_state["quant_notice"] = f"Ladder started (process {pid}).{shrunk}"
            st.rerun()
        except PerficsError as exc:
            st.error(str(exc))

st.subheader("Ladders")
try:
    table = ladder.overview()
except PerficsError as exc:
    st.error(str(exc))
    st.stop()
if table.empty:
    st.caption("No ladder yet. Start one above.")
    st.stop()
# Status and progress are in the line below the picker, which polls; a label would go stale.
labels = {
    r.id: f"{r.source} · {r.created_at:%Y-%m-%d %H:%M} UTC · {r.id[:8]}" for r in table.itertuples()
}
if st.session_state.get("quant_pick") not in labels:
    st.session_state.pop("quant_pick", None)
pick = st.selectbox("Ladder", list(labels), format_func=labels.get, key="quant_pick")
row = table.set_index("id", drop=False).loc[pick]
try:
    ladder_view(pick, state_of(row).status)
except PerficsError as exc:
    st.error(str(exc))
