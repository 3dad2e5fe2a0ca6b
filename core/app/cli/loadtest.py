"""`perfics loadtest`: an endpoint measured at several concurrency levels: requests/s, output
tokens/s and latency percentiles per level. Priced on the Costs page."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from tqdm import tqdm

from core.app import context, loadtest, runs, worker
from core.app.cli.common import print_json
from core.app.formatting import LEAVES_MACHINE
from core.errors import InvalidRequest, PerficsError
from core.evaluation.loadtest import (
    DEFAULT_LEVELS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_REQUESTS,
)
from core.types import LoadLevel, LoadTest, RunStatus

HEADER = (
    f"{'concurrency':>11} {'requests':>8} {'ok':>5} {'failed':>6} {'req/s':>7} "
    f"{'output tok/s':>12} {'latency p50/p90/p99 (s)':>24} {'TTFT p50 (s)':>12}"
)


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_level(level: LoadLevel) -> str:
    latency = "/".join(
        _seconds(v) for v in (level.latency_p50_s, level.latency_p90_s, level.latency_p99_s)
    )
    return (
        f"{level.concurrency:>11} {level.requests:>8} {level.succeeded:>5} {level.failed:>6} "
        f"{level.requests_per_s:>7.2f} {level.output_tokens_per_s:>12.1f} {latency:>24} "
        f"{_seconds(level.ttft_p50_s):>12}"
    )


def format_test(test: LoadTest, with_error: bool = True) -> str:
    cfg = test.config
    where = f"endpoint {cfg.endpoint} ({', '.join(cfg.urls)})" if cfg.endpoint else "local model"
    lines = [
        f"Load test {test.id} of {cfg.model}, {where}: {cfg.requests} chat requests per level, "
        f"max {cfg.max_tokens} tokens, temperature {cfg.settings.temperature:g}, seed "
        f"{cfg.settings.seed}; prompts: {cfg.prompt_source}. Status: {test.status}.",
        HEADER,
        *(format_level(level) for level in test.levels),
    ]
    if not test.levels:
        lines.append("(no level measured yet)")
    for level in test.levels:
        for reason, n in level.failures:
            lines.append(f"  concurrency {level.concurrency}: {n} failed: {reason}")
    if test.levels:
        lines.append(
            "Latency: client-side, send to last token, over the requests that succeeded; "
            "percentiles interpolated between nearest ranks. One warm-up request before the "
            "first level is not counted."
        )
    above = loadtest.over_capacity(test)
    if above:
        lines.append(
            f"Concurrency {', '.join(map(str, above))} exceeds the endpoint's capacity of "
            f"{cfg.capacity} requests in flight (max_concurrency × URLs): the excess waited "
            "in PeRFICS."
        )
    if not cfg.endpoint:
        lines.append("A local model answers one request at a time, whatever the concurrency.")
    if test.error and with_error:
        lines.append(f"Last error: {test.error}")
    return "\n".join(lines)


def loadtest_json(test: LoadTest) -> dict:
    return {
        "run_id": test.id,
        "status": test.status,
        "model": test.config.model,
        "endpoint": test.config.endpoint,
        "urls": list(test.config.urls),
        "requests_per_level": test.config.requests,
        "max_tokens": test.config.max_tokens,
        "error": test.error,
        "levels": [
            {
                **asdict(level),
                "requests_per_s": level.requests_per_s,
                "output_tokens_per_s": level.output_tokens_per_s,
            }
            for level in test.levels
        ],
    }


def _list(args: argparse.Namespace) -> int:
    found = loadtest.tests()
    if args.json:
        print_json([loadtest_json(t) for t in found])
        return 0
    if not found:
        print("No load tests yet: run `perfics loadtest ENDPOINT`.")
        return 0
    for t in found:
        done = f"{len(t.levels)} of {len(t.config.concurrency)} levels"
        best = max((level.requests_per_s for level in t.levels), default=None)
        peak = "" if best is None else f", up to {best:.2f} req/s"
        where = f" ({LEAVES_MACHINE})" if t.config.leaves_machine else ""
        print(
            f"{t.id}  {t.created_at:%Y-%m-%d %H:%M}  {t.status:<11} {t.label}{where}: {done}{peak}"
        )
    return 0


def _work(run_id: str, args: argparse.Namespace) -> None:
    print(f"load test {run_id}", file=sys.stderr, flush=True)
    if args.background:
        pid = worker.launch(run_id)
        print(f"working in the background (process {pid}); log: {worker.log_path(run_id)}")
        return
    with tqdm(desc="requests", unit="req", file=sys.stderr, disable=args.quiet) as bar:

        def show(done: int, total: int, eta: float | None) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        worker.work(run_id, show)


def cmd_loadtest(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    context.store().init()
    if args.run:
        run_id = args.run
        if loadtest.get(run_id).status != RunStatus.COMPLETED:
            runs.prepare_resume(run_id)
    elif not args.model:
        raise InvalidRequest("Name the endpoint (or model) to load, or give --run ID to resume.")
    else:
        run_id = loadtest.create(args.model, args.concurrency, args.requests, args.max_tokens)
    try:
        if loadtest.get(run_id).status != RunStatus.COMPLETED:
            _work(run_id, args)
    except PerficsError:
        if not args.json:  # what was measured before the failure; main() prints the reason
            print(format_test(loadtest.get(run_id), with_error=False))
        raise
    test = loadtest.get(run_id)
    if args.json:
        print_json(loadtest_json(test))
    elif not args.background:
        print(format_test(test))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loadtest",
        help="measure an endpoint at several concurrency levels (req/s, tokens/s, latency)",
        description="At each level, --requests chat requests (the built-in suite's questions, "
        "greedy, fixed seed) go out with at most that many in flight; each is timed by the "
        "client. One warm-up request first is not counted. It is a run: --run ID resumes a "
        "stopped test at the level it was on (perfics run --stop/--delete work on it too). "
        "The Costs page turns the levels into cost per 1,000 answers.",
    )
    p.add_argument("model", nargs="?", help="the endpoint's name (or any model's)")
    p.add_argument(
        "--concurrency",
        default=",".join(map(str, DEFAULT_LEVELS)),
        help="comma-separated levels (default 1,2,4,8)",
    )
    p.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"requests per level (default {DEFAULT_REQUESTS})",
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"per answer (default {DEFAULT_MAX_TOKENS})",
    )
    p.add_argument("--run", help="resume (or show) the load test with this id")
    p.add_argument("--list", action="store_true", help="list load tests")
    p.add_argument("--background", action="store_true", help="hand it to a background worker")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_loadtest)
