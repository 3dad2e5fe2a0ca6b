"""`perfics loadtest` against a real HTTP server (tests/openai_stub.py) through the endpoint
backend: how many requests the server had in flight at once (its own count, never a timing),
the tokens it wrote, and an endpoint that refuses."""

import json

from core.app import context
from core.app.cli import main
from core.engine.endpoint_config import save_endpoints
from core.evaluation.loadtest import builtin_prompts
from core.types import EndpointConfig
from tests.openai_stub import reply_words


def _declare(stub, max_concurrency: int) -> None:
    config = EndpointConfig("stub", stub.url, "stub-model", max_concurrency=max_concurrency)
    save_endpoints(context.settings().endpoints_path, [config])


def _loadtest(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["loadtest", "stub", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_requests_at_concurrency_two_overlap_on_the_server(make_openai_stub, capsys):
    stub = make_openai_stub(delay_s=0.01)  # per streamed token: ~0.1 s a reply
    _declare(stub, max_concurrency=2)
    code, out, err = _loadtest(capsys, "--concurrency", "2", "--requests", "6", "--json")
    assert code == 0, err
    assert stub.max_in_flight == 2
    assert len(stub.generation_requests()) == 1 + 6  # the warm-up, then the level
    (level,) = json.loads(out)["levels"]
    assert (level["requests"], level["succeeded"], level["failed"]) == (6, 6, 0)
    # The stub echoes the last 12 words of "user: <question>", one token each, after "Echo:".
    expected = sum(len(reply_words(f"user: {p}")) for p in builtin_prompts()[:6])
    assert level["output_tokens"] == expected
    assert level["ttft_p50_s"] is not None and level["ttft_p50_s"] <= level["latency_p50_s"]


def test_at_concurrency_one_the_server_never_has_two(make_openai_stub, capsys):
    stub = make_openai_stub(delay_s=0.005)
    _declare(stub, max_concurrency=4)
    code, _, err = _loadtest(capsys, "--concurrency", "1", "--requests", "4", "--quiet")
    assert code == 0, err
    assert stub.max_in_flight == 1


def test_a_level_above_the_endpoints_capacity_is_held_to_it(make_openai_stub, capsys):
    stub = make_openai_stub(delay_s=0.005)
    _declare(stub, max_concurrency=1)
    code, out, err = _loadtest(capsys, "--concurrency", "4", "--requests", "4", "--quiet")
    assert code == 0, err
    assert stub.max_in_flight == 1
    assert "Concurrency 4 exceeds the endpoint's capacity of 1 requests in flight" in out


def test_an_endpoint_that_refuses_the_warm_up_prints_why(make_openai_stub, capsys):
    stub = make_openai_stub()
    _declare(stub, max_concurrency=2)
    stub.fail("400")
    code, out, err = _loadtest(capsys, "--concurrency", "1,2", "--requests", "2")
    assert code == 1
    assert err.count("error: Endpoint stub") == 1 and "400" in err
    assert "(no level measured yet)" in out and "Traceback" not in err + out
