"""Schema for OpenAI-compatible endpoints (issue 14): which endpoint and server produced each
generation, and load tests of an endpoint at several concurrency levels."""

from __future__ import annotations

import duckdb


def _m013_endpoints(con: duckdb.DuckDBPyConnection) -> None:
    """A generation made by an endpoint records the endpoint's name, the URL that answered, what
    the server said it is, and the timings it reported (JSON, llama.cpp's `timings`). A load
    test keeps one row per concurrency level."""
    for column, kind in (
        ("endpoint", "VARCHAR"),
        ("endpoint_url", "VARCHAR"),
        ("server", "VARCHAR"),
        ("server_timings", "JSON"),
    ):
        con.execute(f"ALTER TABLE generations ADD COLUMN {column} {kind}")
    con.execute(
        """
        CREATE TABLE load_tests (
            id VARCHAR PRIMARY KEY,
            endpoint VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            urls JSON NOT NULL,
            max_tokens INTEGER NOT NULL,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE load_test_levels (
            load_test_id VARCHAR NOT NULL,
            concurrency INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            succeeded INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            seconds DOUBLE NOT NULL,
            output_tokens BIGINT NOT NULL,
            latency_p50_s DOUBLE,
            latency_p90_s DOUBLE,
            latency_p99_s DOUBLE,
            ttft_p50_s DOUBLE,
            ttft_p90_s DOUBLE,
            PRIMARY KEY (load_test_id, concurrency)
        )
        """
    )
