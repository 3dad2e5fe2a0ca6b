"""Schema for OpenAI-compatible endpoints (issue 14): which endpoint and server produced each
generation, and load tests of an endpoint at several concurrency levels."""

from __future__ import annotations

import duckdb


def _m013_endpoints(con: duckdb.DuckDBPyConnection) -> None:
    """A generation made by an endpoint records the endpoint's name, the URL that answered, what
    the server said it is, and the timings it reported (JSON, llama.cpp's `timings`)."""
    for column, kind in (
        ("endpoint", "VARCHAR"),
        ("endpoint_url", "VARCHAR"),
        ("server", "VARCHAR"),
        ("server_timings", "JSON"),
    ):
        con.execute(f"ALTER TABLE generations ADD COLUMN {column} {kind}")
    # A load test is a run (kind "loadtest"; its configuration is the run's): one row per
    # level measured (its wall time), and one per request, from which each level's counts,
    # tokens and latency percentiles are aggregated.
    con.execute(
        """
        CREATE TABLE load_test_levels (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            concurrency INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            seconds DOUBLE NOT NULL,
            server VARCHAR,
            PRIMARY KEY (run_id, concurrency)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE load_test_requests (
            run_id VARCHAR NOT NULL,
            concurrency INTEGER NOT NULL,
            request_no INTEGER NOT NULL,
            ok BOOLEAN NOT NULL,
            started_s DOUBLE NOT NULL,
            latency_s DOUBLE NOT NULL,
            ttft_s DOUBLE,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            endpoint_url VARCHAR,
            error VARCHAR,
            PRIMARY KEY (run_id, concurrency, request_no)
        )
        """
    )
