"""Classify: datasets of texts, codebooks of labels, and coding runs in which models propose
labels for the Review page (issue 12)."""

import streamlit as st

from core.errors import PerficsError
from pages.components.classify_data import dataset_import, datasets_table
from pages.components.codebook_editor import codebook_import, codebook_writer, codebooks_view
from pages.components.coding_runs import coding_runs
from pages.components.coding_start import coding_start

st.title("Classify")
st.caption(
    "Import texts and a codebook, let several models propose labels (grammar-forced, each "
    "with a confidence from the model's token probabilities), then verify them on the Review "
    "page."
)
data_tab, codebook_tab, runs_tab = st.tabs(["Datasets", "Codebooks", "Coding runs"])
try:
    with data_tab:
        dataset_import()
        datasets = datasets_table()
    with codebook_tab:
        codebook_import()
        codebook_writer()
        codebooks = codebooks_view()
    with runs_tab:
        coding_start(datasets, codebooks)
        coding_runs()
except PerficsError as exc:
    st.error(str(exc))
