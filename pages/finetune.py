"""Fine-tune: LoRA adapters trained on verified (or gold) labels in a background worker, with
their live loss curve, and the adapters they wrote (issue 13)."""

import streamlit as st

from core.app import finetune
from core.errors import PerficsError
from pages.components.finetune_adapters import finetune_adapters
from pages.components.finetune_runs import finetune_runs
from pages.components.finetune_start import finetune_start

st.title("Fine-tune")
st.caption(
    "Train a LoRA adapter for a base model on the labelled texts of a dataset, in the very "
    "prompt the Classify page codes with, the loss on the answer only. It trains in the "
    "background (leave the page and come back) and is saved under the models folder's "
    "adapters/, usable everywhere as base+adapter."
)
try:
    unavailable = finetune.training_unavailable()
    if unavailable:
        st.warning(unavailable)  # the install hint, instead of a form that cannot start
    else:
        finetune_start()
    st.divider()
    finetune_runs()
    st.divider()
    finetune_adapters()
except PerficsError as exc:
    st.error(str(exc))
