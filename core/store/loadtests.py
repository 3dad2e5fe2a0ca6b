"""Load tests' measurements (core/evaluation/loadtest.py): one row per level measured, one per
request. Each level's counts, tokens and latency percentiles are aggregated here, in SQL."""

from __future__ import annotations

import json

from core.store.database import Database
from core.store.duck import optional
from core.store.items import record_outcome
from core.types import ItemOutcome, LoadLevel, LoadTest, LoadTestConfig
from core.types.loadtest import LevelMeasurement

# Percentiles interpolate linearly between the two nearest ranks (quantile_cont): the p-th of
# n sorted values sits at position (n - 1) * p. Latency and TTFT over successful requests only.
# Parameters: a run id or NULL for every load test, twice.
LEVELS_SQL = """
SELECT l.run_id, l.concurrency, l.requests,
       count(r.request_no) FILTER (WHERE r.ok) AS succeeded,
       count(r.request_no) FILTER (WHERE NOT r.ok) AS failed,
       l.seconds,
       coalesce(sum(r.completion_tokens) FILTER (WHERE r.ok), 0) AS output_tokens,
       quantile_cont(r.latency_s, 0.5) FILTER (WHERE r.ok) AS latency_p50_s,
       quantile_cont(r.latency_s, 0.9) FILTER (WHERE r.ok) AS latency_p90_s,
       quantile_cont(r.latency_s, 0.99) FILTER (WHERE r.ok) AS latency_p99_s,
       quantile_cont(r.ttft_s, 0.5) FILTER (WHERE r.ok) AS ttft_p50_s,
       quantile_cont(r.ttft_s, 0.9) FILTER (WHERE r.ok) AS ttft_p90_s,
       coalesce(sum(r.prompt_tokens) FILTER (WHERE r.ok), 0) AS prompt_tokens,
       l.server
FROM load_test_levels l
LEFT JOIN load_test_requests r ON r.run_id = l.run_id AND r.concurrency = l.concurrency
WHERE CAST(? AS VARCHAR) IS NULL OR l.run_id = ?
GROUP BY l.run_id, l.item_no, l.concurrency, l.requests, l.seconds, l.server
ORDER BY l.run_id, l.item_no
"""

FAILURES_SQL = """
SELECT run_id, concurrency, coalesce(error, 'unknown error') AS reason, count(*) AS n
FROM load_test_requests
WHERE NOT ok AND (CAST(? AS VARCHAR) IS NULL OR run_id = ?)
GROUP BY ALL
ORDER BY run_id, concurrency, n DESC, reason
"""


class LoadTestTable:
    def __init__(self, db: Database):
        self.db = db

    def finish_level(
        self, run_id: str, item_no: int, outcome: ItemOutcome, level: LevelMeasurement
    ) -> None:
        """The level's unit outcome, its wall time and every request: one transaction, so a
        level is either stored whole or still pending."""
        with self.db.transaction() as con:
            record_outcome(con, run_id, item_no, outcome)
            con.execute(
                "INSERT INTO load_test_levels (run_id, item_no, concurrency, requests, seconds, "
                "server) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    item_no,
                    level.concurrency,
                    len(level.requests),
                    level.seconds,
                    level.server,
                ],
            )
            con.executemany(
                "INSERT INTO load_test_requests (run_id, concurrency, request_no, ok, started_s, "
                "latency_s, ttft_s, prompt_tokens, completion_tokens, endpoint_url, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        run_id,
                        level.concurrency,
                        r.no,
                        r.ok,
                        r.started_s,
                        r.latency_s,
                        r.ttft_s,
                        r.prompt_tokens,
                        r.completion_tokens,
                        r.endpoint_url,
                        r.error,
                    ]
                    for r in level.requests
                ],
            )

    def _levels(self, run_id: str | None) -> dict[str, list[LoadLevel]]:
        failures: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for rid, concurrency, reason, n in self.db.rows(FAILURES_SQL, [run_id, run_id]):
            failures.setdefault((rid, concurrency), []).append((reason, int(n)))
        out: dict[str, list[LoadLevel]] = {}
        for row in self.db.rows(LEVELS_SQL, [run_id, run_id]):
            rid, concurrency, requests, ok, failed, seconds, out_tokens, *quantiles = row
            *percentiles, prompt_tokens, server = quantiles
            out.setdefault(rid, []).append(
                LoadLevel(
                    concurrency,
                    requests,
                    int(ok),
                    int(failed),
                    float(seconds),
                    int(out_tokens),
                    *(optional(p) for p in percentiles),
                    prompt_tokens=int(prompt_tokens),
                    failures=tuple(failures.get((rid, concurrency), ())),
                    server=optional(server),
                )
            )
        return out

    def levels(self, run_id: str) -> list[LoadLevel]:
        """The levels measured so far, in the order they ran."""
        return self._levels(run_id).get(run_id, [])

    def tests(self, run_id: str | None = None) -> list[LoadTest]:
        """Every load test (or one), newest first, with the levels measured so far."""
        rows = self.db.rows(
            "SELECT id, config, status, created_at, error FROM runs WHERE kind = 'loadtest' "
            "AND (CAST(? AS VARCHAR) IS NULL OR id = ?) ORDER BY created_at DESC",
            [run_id, run_id],
        )
        levels = self._levels(run_id)
        return [
            LoadTest(
                id=rid,
                config=LoadTestConfig.from_json(json.loads(config)),
                status=status,
                created_at=created,
                levels=tuple(levels.get(rid, ())),
                error=optional(error),
            )
            for rid, config, status, created, error in rows
        ]
