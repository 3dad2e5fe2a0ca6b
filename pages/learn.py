"""Learn: learning curves (issue 13). How well k-shot prompting, an embedding probe (and LoRA
fine-tuning) code the same held-out texts after learning from n verified or gold labels, for
growing n, with the comparison of the methods at one n and what they cost."""

import streamlit as st

from core.errors import PerficsError
from pages.components.curve_start import curve_start
from pages.components.curve_view import compare_view, curve_chart_and_table, pick_curve

st.title("Learn")
st.caption(
    "A learning curve measures each method of each model on one fixed, seeded set of held-out "
    "texts after learning from n labelled texts: k-shot prompting with k examples drawn from "
    "the n texts, and a probe on the model's embeddings. Each n is repeated on seeded "
    "subsamples. It runs in the background: leave the page and come back."
)
try:
    curve_start()
    st.divider()
    st.subheader("Learning curves")
    run_id = pick_curve()
    if run_id:
        curve_chart_and_table(run_id)
        compare_view(run_id)
except PerficsError as exc:
    st.error(str(exc))
