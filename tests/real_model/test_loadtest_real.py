"""`perfics loadtest` against a real server: `python -m llama_cpp.server` serving SmolLM2 on
127.0.0.1 (tests/server_support.py). It answers one request at a time, so every level does the
same greedy work; the table is printed and the tokens counted are the same at each level."""

from __future__ import annotations

import json

import pytest

from core.app import context
from core.engine.endpoint_config import save_endpoints
from tests.support import run_cli

pytestmark = pytest.mark.real_model


def test_the_load_test_prints_its_table_and_counts_the_same_work_at_each_level(llama_server):
    save_endpoints(
        context.settings().endpoints_path, [llama_server.endpoint("smol", max_concurrency=2)]
    )
    shown = run_cli("loadtest", "smol", "--concurrency", "1,2", "--requests", "3",
                    "--max-tokens", "24")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "latency p50/p90/p99 (s)" in shown.stdout and "Traceback" not in shown.stderr
    listed = json.loads(run_cli("loadtest", "--list", "--json").stdout)
    (test,) = listed
    levels = test["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 2]
    assert all((lv["succeeded"], lv["failed"]) == (3, 0) for lv in levels)
    # Temperature 0, same seed, same three questions: the same answers, token for token.
    tokens = {lv["output_tokens"] for lv in levels}
    assert len(tokens) == 1 and 3 <= tokens.pop() <= 3 * 24
    assert all(lv["ttft_p50_s"] <= lv["latency_p50_s"] for lv in levels)
    assert "uvicorn" in (levels[0]["server"] or "")
