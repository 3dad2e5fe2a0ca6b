"""PeRFICS Studio dashboard entry point: navigation and the shared sidebar."""

import streamlit as st

from core.app import context, endpoints
from core.errors import PerficsError
from pages.components import resources
from pages.components.endpoint_editor import leaves_machine_warning
from pages.components.notices import models_folder_notice, show_error
from pages.components.shutdown import stop_runs_at_exit

st.set_page_config(page_title="PeRFICS Studio", layout="wide")

# No page icons: for the tab icon Streamlit fetches a `:material/…:` one from fonts.gstatic.com,
# and an emoji shows as an empty box where no emoji font is installed. The default tab icon
# is served by the dashboard itself (tests/browser/test_offline_walk.py checks).
navigation = st.navigation(
    [
        st.Page("pages/models.py", title="Models", default=True),
        st.Page("pages/refine.py", title="Refine"),
        st.Page("pages/benchmarks.py", title="Benchmarks"),
        st.Page("pages/results.py", title="Results"),
        st.Page("pages/arena.py", title="Arena"),
        st.Page("pages/tradeoffs.py", title="Trade-offs"),
        st.Page("pages/costs.py", title="Costs"),
        st.Page("pages/quantization.py", title="Quantization"),
        st.Page("pages/classify.py", title="Classify"),
        st.Page("pages/review.py", title="Review"),
        st.Page("pages/agreement.py", title="Agreement & metrics"),
        st.Page("pages/learn.py", title="Learn"),
        st.Page("pages/finetune.py", title="Fine-tune"),
    ]
)

try:
    cfg = context.settings()
except PerficsError as exc:  # a bad PERFICS_* variable
    st.error(str(exc))
    st.stop()
stop_runs_at_exit(cfg)  # a refinement running at SIGTERM ends stopped, not "running"

with st.sidebar:
    remote = endpoints.leaving_machine()
    # "Offline" only while nothing is declared that sends prompts to another machine.
    st.caption(
        f"PeRFICS Studio · {len(remote)} remote endpoint(s) declared"
        if remote
        else "PeRFICS Studio · offline"
    )
    st.caption(f"Models folder: `{cfg.models_dir}`")
    models_folder_notice(cfg)
    st.caption(f"Results DB: `{cfg.db}`")
    if cfg.backend == "fake":
        st.caption("Backend: fake (test mode)")
    if st.button("Rescan models", help="Pick up .gguf files added to the models folder"):
        resources.rescan()

leaves_machine_warning()  # on every page, while an endpoint sends prompts elsewhere
read_only = context.store(cfg).read_only_reason
if read_only:
    st.warning(
        f"The results database `{cfg.db}` is read-only ({read_only}): showing what it holds, "
        "nothing can be changed."
    )
try:
    navigation.run()
except PerficsError as exc:
    # The last line of defence: a domain error no page caught (say, a database locked by
    # another process for longer than the wait) is shown, not dumped as a traceback.
    show_error(exc)
