"""A text longer than a real server's context (`python -m llama_cpp.server`, n_ctx 2048,
tests/server_support.py) fails that text only: the server ends the stream of such a request
without a word, the backend asks again unstreamed and gets HTTP 400 with the reason, and the
coding run codes the other texts and completes."""

from __future__ import annotations

import pytest

from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info
from core.errors import EndpointRefusedRequest
from core.evaluation.coding_run import create_coding_run, run_coding
from core.store import Store
from core.types import SamplerSettings
from core.types.classification import Codebook, CodebookLabel, CodingSpec, TextRecord

pytestmark = pytest.mark.real_model

BOOK = Codebook("topics", (CodebookLabel("H", "Health"), CodebookLabel("M", "Money")))
TOO_LONG = "word " * 2500  # about 2,500 tokens, past the server's 2,048


def test_a_prompt_past_the_servers_context_is_a_refusal(llama_server):
    backend = EndpointBackend(endpoint_model_info(llama_server.endpoint()))
    with pytest.raises(EndpointRefusedRequest, match="HTTP 400: .*maximum context length"):
        backend.chat([{"role": "user", "content": TOO_LONG}], SamplerSettings(max_tokens=4))
    short = backend.chat([{"role": "user", "content": "Hi"}], SamplerSettings(max_tokens=4))
    assert short.text and short.endpoint_url == llama_server.base_url


def test_a_coding_run_fails_the_too_long_text_only(llama_server, tmp_path):
    store = Store(tmp_path / "run.duckdb")
    store.init()
    texts = [
        TextRecord("short-1", "A bill to fund hospitals."),
        TextRecord("long", TOO_LONG),
        TextRecord("short-2", "A bill to cut income tax."),
    ]
    store.datasets.save("bills", "test", texts)
    store.codebooks.save(BOOK, "test")
    info = endpoint_model_info(llama_server.endpoint("coder"))
    backend = EndpointBackend(info)
    run_id = create_coding_run(store, CodingSpec("bills", "topics", (info,)), "endpoint")
    assert run_coding(store, run_id, lambda name: backend) == "completed"
    rows = store.db.rows(
        "SELECT question_id, status, error FROM run_items WHERE run_id = ?", [run_id]
    )
    statuses = {text_id: status for text_id, status, _ in rows}
    assert statuses == {"long": "failed", "short-1": "done", "short-2": "done"}
    (error,) = [error for _, status, error in rows if status == "failed"]
    assert "maximum context length is 2048 tokens" in error
