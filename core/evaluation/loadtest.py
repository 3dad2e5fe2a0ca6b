"""Serving under load: a model (an endpoint in practice) sent the same chat requests at several
concurrency levels in turn, each request timed by the client.

A load test is a run (kind "loadtest"), one unit per level, so a stopped test resumes at the
level it was on. At each level `requests` requests go out from `concurrency` threads, each
sending its next request as soon as its last one is answered: at most `concurrency` are in
flight. A request the endpoint fails (after its retries) or refuses, or the backend cannot
generate, counts as failed and keeps its reason. An endpoint not set up to serve (its key
missing, 401, an unknown model) ends the test at once, and so does a level where every
request failed, rather than being stored as a measurement: failed, resumable. Before its
first level, each attempt sends one warm-up request that is not counted: it loads a local
model, opens the connection and wakes the server, none of which a busy server pays per
request.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from itertools import zip_longest

from core.engine import Backend
from core.errors import (
    EndpointRefusedRequest,
    EndpointUnavailable,
    GenerationFailed,
    InvalidRequest,
    PerficsError,
)
from core.evaluation.benchmark import OnProgress
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.suites import builtin_questions
from core.store import Store
from core.types import (
    ItemKey,
    ItemKind,
    ItemOutcome,
    ModelInfo,
    RunKind,
    RunStatus,
    RunUnit,
    SamplerSettings,
)
from core.types.loadtest import LevelMeasurement, LoadRequest, LoadTestConfig

DEFAULT_LEVELS = (1, 2, 4, 8)
DEFAULT_REQUESTS = 16
DEFAULT_MAX_TOKENS = 128
LOAD_SEED = 0
BUILTIN_PROMPTS = "built-in suite, one question of each category in turn"
WARM_UP_PROMPT = "Say hello in one short sentence."
STOP_POLL_S = 0.25  # how often the waiting thread looks for a stop; never part of a timing

LoadBackend = Callable[[str], Backend]
OnRequest = Callable[[LoadRequest], None]


class LevelFailed(PerficsError):
    """Every request of a level failed: there is nothing to measure, so the test stops."""

    def __init__(self, concurrency: int, failures: Counter):
        reasons = "; ".join(f"{reason} (×{n})" for reason, n in failures.most_common(3))
        super().__init__(
            f"Every one of the {failures.total()} requests at concurrency {concurrency} failed: "
            f"{reasons}"
        )


def builtin_prompts() -> tuple[str, ...]:
    """The built-in suite's questions, one of each category in turn, so that any number of
    requests sends a balanced mix."""
    by_category: dict[str, list[str]] = {}
    for q in builtin_questions():
        by_category.setdefault(q.category, []).append(q.text)
    return tuple(t for row in zip_longest(*by_category.values()) for t in row if t)


def parse_levels(text: str) -> tuple[int, ...]:
    """ "1,2,4,8" as (1, 2, 4, 8); anything else is a clear error."""
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidRequest(
            f"Concurrency levels must be whole numbers separated by commas, e.g. 1,2,4,8; "
            f"got {text!r}."
        ) from None
    if not levels:
        raise InvalidRequest("Give at least one concurrency level, e.g. 1,2,4,8.")
    return levels


def plan_config(
    info: ModelInfo,
    levels: tuple[int, ...] = DEFAULT_LEVELS,
    requests: int = DEFAULT_REQUESTS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    seed: int = LOAD_SEED,
) -> LoadTestConfig:
    """A load test of `info` on the built-in prompts: greedy (temperature 0) with a fixed
    seed, so every level asks for the same work."""
    if not info.usable:
        raise InvalidRequest(f"{info.name} is unusable: {info.reason}")
    prompts = builtin_prompts()
    endpoint = info.endpoint
    return LoadTestConfig(
        model=info.name,
        model_sha256=info.sha256,
        endpoint=endpoint.name if endpoint else None,
        urls=endpoint.urls if endpoint else (),
        capacity=endpoint.capacity if endpoint else None,
        leaves_machine=info.leaves_machine,
        concurrency=levels,
        requests=requests,
        settings=SamplerSettings(temperature=0.0, max_tokens=max_tokens, seed=seed),
        prompts=prompts[:requests],
        prompt_source=BUILTIN_PROMPTS,
    )


def create_loadtest(store: Store, config: LoadTestConfig) -> str:
    """The run, queued, with one pending unit per level in the order given."""
    units = [
        RunUnit(no, ItemKey(ItemKind.LOAD_LEVEL, str(c), config.model), "")
        for no, c in enumerate(config.concurrency)
    ]
    return RunLifecycle.create(store, RunKind.LOADTEST, config, units).id


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def timed_request(
    backend: Backend, prompt: str, settings: SamplerSettings, no: int, origin: float
) -> tuple[LoadRequest, str | None]:
    """One chat request, streamed so the first token can be timed; (the request, what the
    server said it is)."""
    first: list[float] = []

    def on_token(_text: str) -> None:
        if not first:
            first.append(time.perf_counter())

    sent = time.perf_counter()
    try:
        gen = backend.chat(_messages(prompt), settings, on_token)
    except (EndpointUnavailable, EndpointRefusedRequest, GenerationFailed) as exc:
        latency = time.perf_counter() - sent
        return LoadRequest(no, False, sent - origin, latency, error=str(exc)), None
    latency = time.perf_counter() - sent
    request = LoadRequest(
        no=no,
        ok=True,
        started_s=sent - origin,
        latency_s=latency,
        ttft_s=first[0] - sent if first else None,
        prompt_tokens=gen.prompt_tokens,
        completion_tokens=gen.completion_tokens,
        endpoint_url=gen.endpoint_url,
    )
    return request, gen.server


def measure_level(
    backend: Backend,
    config: LoadTestConfig,
    concurrency: int,
    on_request: OnRequest | None = None,
    check_stop: Callable[[], None] | None = None,
) -> LevelMeasurement:
    """`config.requests` requests from `concurrency` threads. The level's time runs from the
    first request sent to the last reply. The calling thread collects the replies, calling
    `on_request` for each and `check_stop` in between; when either raises, no further request
    is sent and the error goes on at once: the level is then not measured."""
    replies: queue.Queue[tuple[LoadRequest, str | None] | None] = queue.Queue()
    crashed: list[BaseException] = []
    lock = threading.Lock()
    quit_ = threading.Event()
    next_no = iter(range(config.requests))
    origin = time.perf_counter()

    def send() -> None:
        while not quit_.is_set():
            with lock:
                no = next(next_no, None)
            if no is None:
                return
            try:
                replies.put(timed_request(backend, config.prompt(no), config.settings, no, origin))
            except BaseException as exc:  # a bug or a bad request: end the level, report it
                crashed.append(exc)
                quit_.set()
                replies.put(None)
                return

    threads = [
        threading.Thread(target=send, name=f"load-{concurrency}-{i}", daemon=True)
        for i in range(min(concurrency, config.requests))
    ]
    done: list[LoadRequest] = []
    servers: list[str] = []
    for t in threads:
        t.start()
    try:
        while len(done) < config.requests:
            try:
                reply = replies.get(timeout=STOP_POLL_S)
            except queue.Empty:
                if check_stop:
                    check_stop()
                continue
            if reply is None:
                break  # a thread crashed
            request, server = reply
            done.append(request)
            servers += [server] if server else []
            if on_request:
                on_request(request)
            if check_stop:
                check_stop()
    except BaseException:
        # Stopped: requests in flight end on their own (daemon threads) and are not counted.
        quit_.set()
        raise
    for t in threads:
        t.join()
    if crashed:
        raise crashed[0]
    start = min(r.started_s for r in done)
    end = max(r.started_s + r.latency_s for r in done)
    ordered = tuple(sorted(done, key=lambda r: r.no))
    return LevelMeasurement(concurrency, end - start, ordered, servers[0] if servers else None)


def warm_up(backend: Backend, config: LoadTestConfig) -> None:
    """One request before the first level, not counted; an endpoint that cannot answer it
    ends the test with its reason. Its prompt is none of the levels': a server's prompt cache
    must not give the first measured request a head start."""
    backend.chat(_messages(WARM_UP_PROMPT), config.settings, lambda _text: None)


def run_loadtest(
    store: Store, run_id: str, load: LoadBackend, on_progress: OnProgress = None
) -> RunStatus:
    """Measure every pending level (or resume doing so); returns the final status. Progress
    counts requests: (done, total, seconds left at this attempt's pace)."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.LOADTEST:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a load test.")
    config: LoadTestConfig = record.config
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()  # stopped while it waited for this worker
        backend = load(config.model)
        if config.model_sha256 and backend.info.sha256 not in (None, config.model_sha256):
            raise InvalidRequest(
                f"{config.model} is not the model this load test started with; delete the "
                "test and start a new one."
            )
        pending = store.items.pending(run_id)
        total = len(config.concurrency) * config.requests
        done_before = total - len(pending) * config.requests
        counted = [0]

        def on_request(_request: LoadRequest) -> None:
            counted[0] += 1
            n = counted[0]
            if on_progress:
                left = total - done_before - n
                on_progress(done_before + n, total, (time.monotonic() - began) / n * left)

        if on_progress:
            on_progress(done_before, total, None)
        if pending:
            warm_up(backend, config)
        began = time.monotonic()
        for unit in pending:
            run.check_stop()
            started = time.perf_counter()
            level = measure_level(
                backend, config, int(unit.key.question_id), on_request, run.check_stop
            )
            failures = Counter(r.error for r in level.requests if not r.ok)
            if failures.total() == len(level.requests):
                raise LevelFailed(level.concurrency, failures)
            outcome = ItemOutcome("done", time.perf_counter() - started)
            store.loadtests.finish_level(run_id, unit.no, outcome, level)
        run.complete()
    return RunStatus.COMPLETED
