"""The DuckDB schema as ordered, append-only migrations recorded in a version table.

Never edit a migration that has been released; add a new function at the end instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    # fetchall() completes the result; DuckDB 2 keeps a connection busy after fetchone().
    return con.execute(sql, params or []).fetchall()[0][0]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE models (
            sha256 VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            architecture VARCHAR,
            size_label VARCHAR,
            quantization VARCHAR,
            context_length INTEGER,
            has_chat_template BOOLEAN,
            file_size BIGINT,
            first_seen TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE runs (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            config JSON,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE generations (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            step INTEGER NOT NULL DEFAULT 0,
            kind VARCHAR NOT NULL,
            model_sha256 VARCHAR NOT NULL,
            model_name VARCHAR NOT NULL,
            prompt JSON NOT NULL,
            text VARCHAR NOT NULL,
            finish_reason VARCHAR NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            prompt_tokens_evaluated INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            ttft_s DOUBLE NOT NULL,
            total_s DOUBLE NOT NULL,
            gen_tokens_per_s DOUBLE,
            peak_rss_mb DOUBLE NOT NULL,
            temperature DOUBLE NOT NULL,
            top_p DOUBLE NOT NULL,
            max_tokens INTEGER NOT NULL,
            seed BIGINT NOT NULL,
            stop JSON NOT NULL,
            grammar VARCHAR,
            llama_cpp_version VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute("CREATE INDEX generations_run ON generations(run_id)")


def _m002_refinement(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE generations ADD COLUMN round INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN prefix_tokens INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN repeat_penalty DOUBLE")
    con.execute("ALTER TABLE runs ADD COLUMN stop_reason VARCHAR")


def _m003_benchmarks(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE suites (
            name VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE questions (
            suite VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            category VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            turns JSON NOT NULL,
            reference VARCHAR,
            reference_kind VARCHAR,
            tolerance DOUBLE,
            PRIMARY KEY (suite, id)
        )
        """
    )
    # One row per finished unit of a benchmark run: an answer (model x question, refined and
    # judged) or a model-vs-model pair. Its presence is what makes a resumed run skip it.
    con.execute(
        """
        CREATE TABLE run_items (
            run_id VARCHAR NOT NULL,
            item_key VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            model_name VARCHAR,
            model_sha256 VARCHAR,
            question_id VARCHAR NOT NULL,
            category VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            baseline VARCHAR,
            final VARCHAR,
            stop_reason VARCHAR,
            rounds_done INTEGER,
            baseline_correct BOOLEAN,
            final_correct BOOLEAN,
            seconds DOUBLE,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, item_key)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE judgments (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            item_key VARCHAR NOT NULL,
            judge_name VARCHAR NOT NULL,
            judge_sha256 VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            order_ab VARCHAR,
            score DOUBLE,
            verdict VARCHAR,
            status VARCHAR NOT NULL,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE votes (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            pair_key VARCHAR NOT NULL,
            left_label VARCHAR NOT NULL,
            right_label VARCHAR NOT NULL,
            vote VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute("ALTER TABLE generations ADD COLUMN item_key VARCHAR")
    con.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")


def _m004_model_memory(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE generations ADD COLUMN model_memory_mb DOUBLE")


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_initial,
    _m002_refinement,
    _m003_benchmarks,
    _m004_model_memory,
]


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP)"
    )
    current = scalar(con, "SELECT coalesce(max(version), 0) FROM schema_version")
    for version, migration in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [version, migration.__name__, now()],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
