"""The Models page's endpoints: a table of the OpenAI-compatible servers in endpoints.toml,
a form to add or edit one, Check and Remove; and the warning every page shows while an
endpoint sends data to another machine. Server replies and errors are shown escaped: they
come from outside."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app import endpoints
from core.app.formatting import LEAVES_MACHINE
from core.errors import PerficsError
from core.types import EndpointConfig
from core.types.endpoints import MAX_CONCURRENCY
from pages.components import resources
from pages.components.text import escape

NEW = "(new endpoint)"
NOTICE = "models_ep_notice"
COLUMNS = {
    "name": "Endpoint",
    "urls": st.column_config.TextColumn("URLs", help="The base URL, then any replicas"),
    "model": "Model id",
    "max_concurrency": st.column_config.NumberColumn("In flight per URL"),
    "timeout_s": st.column_config.NumberColumn("Timeout (s)"),
    "api_key_env": st.column_config.TextColumn("API key variable", help="Never the key itself"),
    "key": st.column_config.TextColumn("Key set here"),
    "where": st.column_config.TextColumn("Where the data goes"),
}


def leaves_machine_warning() -> None:
    """One line on every page while a declared endpoint is not on this machine."""
    names = endpoints.leaving_machine()
    if names:
        st.warning(
            f"Data leaves this machine: prompts sent to endpoint(s) {escape(', '.join(names))} "
            "go to another host (see Endpoints on the Models page)."
        )


def _table(rows: list[endpoints.EndpointRow]) -> None:
    key = {None: "no key", True: "set", False: "NOT SET"}
    table = pd.DataFrame(
        {
            "name": [r.name for r in rows],
            "urls": ["\n".join(r.urls) for r in rows],
            "model": [r.model for r in rows],
            "max_concurrency": [r.max_concurrency for r in rows],
            "timeout_s": [r.timeout_s for r in rows],
            "api_key_env": [r.api_key_env or "" for r in rows],
            "key": [key[r.key_set] for r in rows],
            "where": [LEAVES_MACHINE if r.leaves_machine else "this machine" for r in rows],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", column_config=COLUMNS)


def _change(action, notice: str) -> None:
    """Saves or removes, then reruns the page so every model list shows the change."""
    try:
        action()
    except PerficsError as exc:
        st.error(escape(str(exc)))
        return
    resources.rescan()
    st.session_state.pop("models_ep_pick", None)  # a renamed or removed pick is gone
    st.session_state[NOTICE] = notice
    st.rerun()


def _check(name: str) -> None:
    try:
        described = endpoints.check(name)
    except PerficsError as exc:  # unreachable, refused, not OpenAI-compatible: said plainly
        st.error(escape(str(exc)))
        return
    st.success(escape(f"{name} answers: {described}"))


def _form(pick: str, current: EndpointConfig | None) -> None:
    """Prefilled with the picked endpoint (widget keys carry its name, so picking another
    fills the form afresh); empty for a new one."""
    with st.form(f"models_ep_form_{pick}"):
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", current.name if current else "", key=f"models_ep_name_{pick}")
        model = c2.text_input(
            "Model id", current.model if current else "", key=f"models_ep_model_{pick}"
        )
        urls = st.text_area(
            "Base URLs, one a line (the first, then replicas serving the same model)",
            "\n".join(current.urls) if current else "",
            placeholder="http://127.0.0.1:8080/v1",
            key=f"models_ep_urls_{pick}",
        )
        c1, c2, c3 = st.columns(3)
        key_env = c1.text_input(
            "API key environment variable",
            (current.api_key_env or "") if current else "",
            key=f"models_ep_key_{pick}",
            help="The NAME of a variable that holds the key; the key is never stored.",
        )
        concurrency = c2.number_input(
            "Max requests in flight per URL",
            1,
            MAX_CONCURRENCY,
            current.max_concurrency if current else 1,
            key=f"models_ep_conc_{pick}",
        )
        timeout = c3.number_input(
            "Timeout (s)",
            1.0,
            3600.0,
            float(current.timeout_s) if current else 120.0,
            key=f"models_ep_timeout_{pick}",
        )
        saved = st.form_submit_button("Save endpoint", type="primary")
    if saved:

        def save() -> None:
            config = endpoints.config_from_form(name, urls, model, key_env, concurrency, timeout)
            if current is None:
                endpoints.add(config)
            else:
                endpoints.update(pick, config)

        _change(save, f"Saved endpoint {name.strip()}.")


def endpoint_section() -> None:
    """In an expander, open while there is something to read: a problem or a notice."""
    found = endpoints.listing()
    notice = st.session_state.pop(NOTICE, None)
    title = "Endpoints: models served by OpenAI-compatible servers"
    with st.expander(title, expanded=bool(found.problems or notice)):
        st.caption(
            "llama-server, vLLM, Ollama or `python -m llama_cpp.server`, declared in "
            f"`{endpoints.endpoints_path()}`. Only the endpoints listed here are ever contacted."
        )
        if notice:
            st.success(escape(notice))
        for problem in found.problems:
            st.warning(escape(f"{problem.label}: not used: {problem.reason}"))
        rows = endpoints.rows(found)
        if rows:
            _table(rows)
        pick = st.selectbox("Endpoint", [NEW, *(r.name for r in rows)], key="models_ep_pick")
        current = found.named(pick) if pick != NEW else None
        c1, c2, _ = st.columns([1, 1, 4])
        if c1.button("Check", key="models_ep_check", disabled=current is None):
            _check(pick)
        if c2.button("Remove", key="models_ep_remove", disabled=current is None):
            _change(lambda: endpoints.remove(pick), f"Removed endpoint {pick}.")
        _form(pick, current)
