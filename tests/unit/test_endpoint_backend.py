"""The endpoint backend over real HTTP to the stub server (tests/openai_stub.py): what it sends,
what it records, how it spreads requests over replicas, and how it meets every failure."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from core.engine.endpoint import EndpointBackend
from core.engine.endpoint_config import endpoint_model_info
from core.engine.endpoint_http import retry_after_seconds
from core.engine.endpoint_pool import ReplicaPool
from core.errors import (
    EndpointRefusedRequest,
    EndpointRejected,
    EndpointUnavailable,
    InvalidRequest,
)
from core.types import EndpointConfig, SamplerSettings

HELLO = [{"role": "user", "content": "hello there world"}]
KEY_VAR = "PERFICS_TEST_ENDPOINT_KEY"
KEY = "sk-test-4f1b9c"


def make_backend(*urls, sleeps=None, max_concurrency=1, timeout_s=5.0, api_key_env=None, **kw):
    config = EndpointConfig(
        name="stubbed",
        base_url=urls[0],
        model="served-model",
        replicas=tuple(urls[1:]),
        max_concurrency=max_concurrency,
        timeout_s=timeout_s,
        api_key_env=api_key_env,
    )
    recorded = sleeps if sleeps is not None else []
    options = {"sleep": recorded.append, "rng": random.Random(0), **kw}
    return EndpointBackend(endpoint_model_info(config), **options)


def settings(**changes) -> SamplerSettings:
    return SamplerSettings(**{"temperature": 0.0, "max_tokens": 3, "seed": 7, **changes})


def stopped_url(make_openai_stub) -> str:
    """A loopback URL where nothing listens any more."""
    stub = make_openai_stub()
    stub.stop()
    return stub.url


# What is sent and recorded.


def test_chat_streams_pieces_and_records_usage_and_provenance(openai_stub):
    backend = make_backend(openai_stub.url)
    pieces = []
    gen = backend.chat(HELLO, settings(), pieces.append)
    # The stub echoes the transcript "user: hello there world", one word per token.
    assert pieces == ["Echo:", " user:", " hello"] and gen.text == "Echo: user: hello"
    assert gen.finish_reason == "length"
    assert gen.prompt == HELLO and gen.prompt is not HELLO
    # From the reply's usage: 4 prompt words, 3 tokens; no cache figure, so all evaluated.
    assert (gen.prompt_tokens, gen.prompt_tokens_evaluated, gen.completion_tokens) == (4, 4, 3)
    assert 0 < gen.ttft_s <= gen.total_s
    assert gen.gen_tokens_per_s == pytest.approx((3 - 1) / (gen.total_s - gen.ttft_s))
    assert gen.endpoint == "stubbed" and gen.endpoint_url == openai_stub.url
    assert gen.server == "openai-stub/1.0; model stub-model; fingerprint stub-fp"
    assert gen.server_timings is None and gen.model_memory_mb is None
    assert gen.model_name == "stubbed" and gen.model_sha256 == backend.info.sha256
    assert gen.llama_cpp_version == backend.version == "endpoint stubbed (served-model)"
    assert gen.peak_rss_mb > 0 and gen.prompt_format == "server"
    [request] = openai_stub.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "served-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "top_p": 0.95,
        "max_tokens": 3,
        "seed": 7,
        "repeat_penalty": 1.1,
        "messages": HELLO,
    }
    assert "authorization" not in request.headers


def test_complete_takes_counts_from_llama_cpp_timings(make_openai_stub):
    stub = make_openai_stub(timings=True, usage=False)
    backend = make_backend(stub.url)
    backend.complete("alpha beta gamma delta", settings(max_tokens=8))
    gen = backend.complete("alpha beta gamma epsilon zeta", settings(max_tokens=8))
    # The stub's cache shares the first 3 words with the previous prompt: prompt_n = 2
    # evaluated, cache_n = 3, so 5 prompt tokens of which 2 evaluated.
    assert gen.server_timings.prompt_n == 2 and gen.server_timings.cache_n == 3
    assert (gen.prompt_tokens, gen.prompt_tokens_evaluated) == (5, 2)
    assert gen.text == "Echo: alpha beta gamma epsilon zeta" and gen.finish_reason == "stop"
    assert gen.completion_tokens == gen.server_timings.predicted_n == 6
    assert gen.server_timings.predicted_per_second == 3000.0
    assert gen.prompt == "alpha beta gamma epsilon zeta" and gen.prompt_format == "completion"
    assert stub.requests[-1].path == "/v1/completions"
    assert stub.requests[-1].body["prompt"] == "alpha beta gamma epsilon zeta"


def test_without_usage_or_timings_tokens_are_counted_and_prompt_is_unknown(make_openai_stub):
    stub = make_openai_stub(usage=False)
    gen = make_backend(stub.url).complete("one two three four five", settings(max_tokens=4))
    assert gen.completion_tokens == 4 and gen.text == "Echo: one two three"
    assert gen.prompt_tokens == gen.prompt_tokens_evaluated == 0  # 0: the server did not say


def test_stop_grammar_and_repeat_penalty_are_sent(openai_stub):
    grammar = 'root ::= "yes" | "no"'
    backend = make_backend(openai_stub.url)
    gen = backend.chat(HELLO, settings(stop=("three",), grammar=grammar, repeat_penalty=1.0))
    body = openai_stub.requests[-1].body
    assert body["stop"] == ["three"] and body["grammar"] == grammar
    assert body["repeat_penalty"] == 1.0
    assert gen.text in ("yes", "no")
    cut = backend.complete("one two three four", settings(max_tokens=9, stop=(" three",)))
    assert cut.text == "Echo: one two" and cut.finish_reason == "stop"


def test_a_whole_json_reply_is_read_like_a_stream(make_openai_stub):
    stub = make_openai_stub(stream=False, timings=True)
    pieces = []
    gen = make_backend(stub.url).chat(HELLO, settings(), pieces.append)
    assert pieces == ["Echo: user: hello"] and gen.text == "Echo: user: hello"
    assert gen.completion_tokens == 3 and gen.server_timings.predicted_n == 3


def test_requests_from_one_thread_reuse_one_connection(openai_stub):
    backend = make_backend(openai_stub.url)
    for _ in range(3):
        backend.chat(HELLO, settings())
    assert len({r.client_port for r in openai_stub.requests}) == 1


def test_a_connection_the_server_closed_is_replaced_without_a_retry(openai_stub):
    sleeps = []
    backend = make_backend(openai_stub.url, sleeps=sleeps)
    backend.chat(HELLO, settings())
    openai_stub.stop()  # drops the kept-alive connection, as servers do with idle ones
    openai_stub.start()
    assert backend.chat(HELLO, settings()).text == "Echo: user: hello"
    assert sleeps == [] and len({r.client_port for r in openai_stub.requests}) == 2


def test_connections_of_ended_threads_are_closed(openai_stub):
    backend = make_backend(openai_stub.url)
    worker = threading.Thread(target=lambda: backend.chat(HELLO, settings()))
    worker.start()
    worker.join()
    backend.chat(HELLO, settings())
    assert list(backend._connections._open) == [(threading.get_ident(), openai_stub.url)]


def test_scores_are_not_offered(openai_stub):
    backend = make_backend(openai_stub.url)
    assert backend.score_choices(HELLO, "", ["a", "b"]) is None
    assert backend.score_text("a b", "c") is None and backend.score_reply(HELLO, "x") is None
    assert openai_stub.requests == []


def test_an_info_without_endpoint_is_refused():
    from core.engine.fake import FAKE_INFO

    with pytest.raises(InvalidRequest, match="not served by an endpoint"):
        EndpointBackend(FAKE_INFO)


# Replicas and concurrency.


def test_requests_spread_over_replicas_never_above_max_concurrency(make_openai_stub):
    first, second = make_openai_stub(delay_s=0.01), make_openai_stub(delay_s=0.01)
    backend = make_backend(first.url, second.url, max_concurrency=2)

    def ask(i: int):
        return backend.chat([{"role": "user", "content": f"question {i}"}], settings(max_tokens=6))

    with ThreadPoolExecutor(8) as pool:
        gens = list(pool.map(ask, range(16)))
    assert first.max_in_flight <= 2 and second.max_in_flight <= 2
    assert first.requests and second.requests
    assert len(first.requests) + len(second.requests) == 16
    assert {g.endpoint_url for g in gens} == {first.url, second.url}
    assert all(g.text.endswith(f"question {i}") for i, g in enumerate(gens))


def test_pool_blocks_at_capacity_and_breaks_ties_in_turn():
    pool = ReplicaPool(("a", "b"), max_concurrency=2)
    assert [pool.acquire() for _ in range(4)] == ["a", "b", "a", "b"]
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    waiter.join(timeout=0.2)
    assert got == []  # every slot taken: it waits
    pool.release("b")
    waiter.join(timeout=10)
    assert got == ["b"] and pool.in_flight("a") == pool.in_flight("b") == 2


def test_a_replica_that_went_away_is_skipped_without_waiting(make_openai_stub):
    live = make_openai_stub()
    sleeps = []
    backend = make_backend(stopped_url(make_openai_stub), live.url, sleeps=sleeps)
    gens = [backend.chat(HELLO, settings()) for _ in range(4)]
    assert {g.endpoint_url for g in gens} == {live.url}
    assert sleeps == [] and len(live.requests) == 4


def test_a_server_that_comes_back_on_its_port_is_used_again(openai_stub):
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        openai_stub.start()

    backend = make_backend(openai_stub.url, sleep=sleep)
    backend.chat(HELLO, settings())
    openai_stub.stop()
    gen = backend.chat(HELLO, settings())
    assert gen.text == "Echo: user: hello" and len(sleeps) == 1
    assert len(openai_stub.generation_requests()) == 2


# Failures.


def test_refused_connections_back_off_then_raise_unavailable(make_openai_stub):
    sleeps = []
    backend = make_backend(stopped_url(make_openai_stub), sleeps=sleeps, jitter=0.0)
    with pytest.raises(EndpointUnavailable, match=r"connection refused; gave up after 5 tries"):
        backend.chat(HELLO, settings())
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped_and_jittered():
    capped = make_backend("http://127.0.0.1:9/v1", jitter=0.0, backoff_cap_s=1.5)
    assert [capped._delay(k, None) for k in range(4)] == [0.5, 1.0, 1.5, 1.5]
    jittered = make_backend("http://127.0.0.1:9/v1", rng=random.Random(3), jitter=0.25)
    draws = random.Random(3)
    expected = [min(8.0, 0.5 * 2**k) * (1 + 0.25 * draws.uniform(-1, 1)) for k in range(3)]
    assert [jittered._delay(k, None) for k in range(3)] == expected
    assert all(0.375 <= d <= 0.625 for d in expected[:1])
    assert jittered._delay(0, 2.0) == 2.0  # a server's Retry-After, as it asked


def test_unresolvable_host_is_unavailable():
    sleeps = []
    backend = make_backend("http://no-such-host.invalid:8080/v1", sleeps=sleeps, retries=1)
    with pytest.raises(EndpointUnavailable) as caught:
        backend.chat(HELLO, settings())
    assert "cannot resolve host no-such-host.invalid" in str(caught.value)
    assert "2 tries" in caught.value.reason and len(sleeps) == 1
    assert caught.value.transient and caught.value.url == "http://no-such-host.invalid:8080/v1"


def test_a_silent_server_times_out(openai_stub):
    openai_stub.fail("stall:3")
    backend = make_backend(openai_stub.url, timeout_s=0.2, retries=0)
    with pytest.raises(EndpointUnavailable, match=r"no answer within 0.2 s; gave up after 1 try"):
        backend.chat(HELLO, settings())


def test_server_errors_are_retried_until_one_succeeds(openai_stub):
    openai_stub.fail("500", "503")
    sleeps = []
    gen = make_backend(openai_stub.url, sleeps=sleeps).chat(HELLO, settings())
    assert gen.text == "Echo: user: hello"
    assert len(openai_stub.generation_requests()) == 3 and len(sleeps) == 2


def test_server_errors_that_persist_name_the_status_and_body(openai_stub):
    openai_stub.fail("503", "503", "503")
    with pytest.raises(EndpointUnavailable) as caught:
        make_backend(openai_stub.url, retries=2).chat(HELLO, settings())
    assert caught.value.reason.startswith(
        "HTTP 503: stub fault 503: the request cannot be served; gave up after 3 tries over"
    )


@pytest.mark.parametrize(
    "header, seconds", [("2", 2.0), ("0.5", 0.5), ("1000", 60.0), ("soon", None)]
)
def test_429_waits_as_long_as_retry_after_says(openai_stub, header, seconds):
    openai_stub.fail(f"429:{header}")
    sleeps = []
    gen = make_backend(openai_stub.url, sleeps=sleeps, jitter=0.0).chat(HELLO, settings())
    assert gen.text == "Echo: user: hello"
    assert sleeps == [seconds if seconds is not None else 0.5]  # unreadable: own backoff


def test_retry_after_reads_http_dates():
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:20:00 GMT", now) == 0.0
    assert retry_after_seconds("Thu, 22 Oct 2015 07:28:00 GMT", now) == 60.0
    assert retry_after_seconds(None, now) is None and retry_after_seconds("", now) is None


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("refuse", "the server closed the connection without answering"),
        ("truncate", "the stream ended before the reply finished"),
        ("interrupt", "the stream ended before the reply finished"),
        ("cut", "the stream ended before the reply finished"),  # http.client hides the cut
        ("malformed", "malformed JSON in the reply"),
    ],
)
def test_broken_replies_are_unavailable(openai_stub, fault, reason):
    openai_stub.fail(fault)
    with pytest.raises(EndpointUnavailable, match=reason):
        make_backend(openai_stub.url, retries=0).chat(HELLO, settings(max_tokens=8))


def test_a_retried_stream_repeats_pieces_but_not_the_text(openai_stub):
    openai_stub.fail("truncate")
    pieces = []
    gen = make_backend(openai_stub.url).chat(HELLO, settings(max_tokens=4), pieces.append)
    # The cut-off try's first 2 pieces reached on_token before the retry's 4.
    assert pieces == ["Echo:", " user:", "Echo:", " user:", " hello", " there"]
    assert gen.text == "Echo: user: hello there"


@pytest.mark.parametrize(
    "status, request_only",
    [("400", True), ("413", True), ("422", True), ("401", False), ("403", False), ("404", False)],
)
def test_client_errors_are_rejected_at_once(openai_stub, status, request_only):
    """400, 413 and 422 refuse this request (it fails its item); 401, 403 and 404 say the
    endpoint is not set up to serve (a run stops resumable)."""
    openai_stub.fail(status)
    sleeps = []
    with pytest.raises(EndpointRejected) as caught:
        make_backend(openai_stub.url, sleeps=sleeps).chat(HELLO, settings())
    assert (
        caught.value.reason == f"HTTP {status}: stub fault {status}: the request cannot be served"
    )
    assert isinstance(caught.value, EndpointRefusedRequest) is request_only
    assert not caught.value.transient and sleeps == [] and len(openai_stub.requests) == 1


def test_a_silent_stream_is_asked_again_whole_and_a_refusal_then_fails_the_request(openai_stub):
    """llama_cpp.server ends the stream of a prompt longer than its context without a word, and
    refuses the same request unstreamed with HTTP 400 (measured: n_ctx 256, 631 tokens)."""
    openai_stub.fail("silent", "400")
    with pytest.raises(EndpointRefusedRequest, match="HTTP 400: stub fault 400"):
        make_backend(openai_stub.url, retries=0).chat(HELLO, settings())
    streamed, whole = (r.body for r in openai_stub.requests)
    assert streamed["stream"] is True and "stream_options" in streamed
    assert whole["stream"] is False and "stream_options" not in whole
    assert {k: v for k, v in whole.items() if not k.startswith("stream")} == {
        k: v for k, v in streamed.items() if not k.startswith("stream")
    }


def test_a_silent_stream_answered_whole_gives_the_reply(openai_stub):
    openai_stub.fail("silent")
    pieces = []
    gen = make_backend(openai_stub.url, retries=0).chat(HELLO, settings(), pieces.append)
    assert gen.text == "Echo: user: hello" and pieces == ["Echo: user: hello"]
    assert len(openai_stub.requests) == 2


def test_a_server_silent_twice_is_unavailable(openai_stub):
    openai_stub.fail("silent", "silent")
    with pytest.raises(EndpointUnavailable, match="ended the stream without sending anything"):
        make_backend(openai_stub.url, retries=0).chat(HELLO, settings())
    assert len(openai_stub.requests) == 2


# API keys.


def test_the_key_is_read_from_its_variable_and_sent_as_bearer(openai_stub, monkeypatch):
    monkeypatch.setenv(KEY_VAR, KEY)
    gen = make_backend(openai_stub.url, api_key_env=KEY_VAR).chat(HELLO, settings())
    assert openai_stub.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(gen)


def test_a_missing_key_variable_is_rejected_before_any_request(openai_stub, monkeypatch):
    monkeypatch.delenv(KEY_VAR, raising=False)
    with pytest.raises(EndpointRejected, match=f"environment variable {KEY_VAR} is not set") as e:
        make_backend(openai_stub.url, api_key_env=KEY_VAR).chat(HELLO, settings())
    assert not isinstance(e.value, EndpointRefusedRequest)  # a set-up problem: the run stops
    assert openai_stub.requests == []


def test_the_key_never_appears_in_errors(make_openai_stub, monkeypatch):
    monkeypatch.setenv(KEY_VAR, KEY)
    stub = make_openai_stub()
    stub.fail("leak401")
    with pytest.raises(EndpointRejected) as rejected:
        make_backend(stub.url, api_key_env=KEY_VAR).chat(HELLO, settings())
    assert rejected.value.reason == "HTTP 401: invalid credentials: Bearer [API key]"
    with pytest.raises(EndpointUnavailable) as unavailable:
        make_backend(stopped_url(make_openai_stub), api_key_env=KEY_VAR).chat(HELLO, settings())
    for error in (rejected.value, unavailable.value):
        assert KEY not in str(error) and KEY not in repr(error.args)


# check().


def test_check_describes_every_replica(make_openai_stub):
    first, second = make_openai_stub(model="served-model"), make_openai_stub(model="served-model")
    line = make_backend(first.url, second.url).check()
    assert line == "2 replicas up: openai-stub/1.0, model served-model"
    other = make_openai_stub(model="another")
    assert make_backend(other.url).check() == (
        "up: openai-stub/1.0, model another (served-model not listed; the server may still "
        "accept it)"
    )


def test_check_names_the_replica_that_is_down(make_openai_stub):
    up, down = make_openai_stub(), stopped_url(make_openai_stub)
    with pytest.raises(EndpointUnavailable, match="connection refused") as caught:
        make_backend(up.url, down).check()
    assert caught.value.url == down
    up.fail("404")
    with pytest.raises(EndpointRejected, match="HTTP 404"):
        make_backend(up.url).check()
