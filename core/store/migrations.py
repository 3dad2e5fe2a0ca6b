"""The DuckDB schema as ordered, append-only migrations recorded in a version table.

Never edit a migration that has been released; add a new function at the end instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import combinations

import duckdb

from core.store.duck import now, scalar


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


def _v4_units(config: dict) -> list[tuple[str, str, str, str, str | None]]:
    """(old item_key, kind, question id, model, other model) in the order version-4 code ran
    them. A frozen copy: migrations must not change when the runner does."""
    models = [m["name"] for m in config["models"]]
    units = []
    for qid in config["question_ids"]:
        units += [(f"answer:{m}:{qid}", "answer", qid, m, None) for m in models]
        if config.get("judge"):
            units += [
                (f"pair:{a}|{b}:{qid}", "pair", qid, a, b) for a, b in combinations(models, 2)
            ]
    return units


def _m005_typed_item_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Run units get a number and typed columns (kind, question, model, other model) instead
    of a formatted key string; every unit of a run exists from its creation ('pending' until
    done), and runs record their unit count, a heartbeat and a stop request."""
    con.execute("ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP")
    con.execute("ALTER TABLE runs ADD COLUMN total_units INTEGER")
    con.execute("ALTER TABLE runs ADD COLUMN stop_requested BOOLEAN DEFAULT false")
    con.execute("ALTER TABLE run_items RENAME TO run_items_v4")
    con.execute(
        """
        CREATE TABLE run_items (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            question_id VARCHAR NOT NULL,
            model_name VARCHAR NOT NULL,
            other_model_name VARCHAR,
            category VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            model_sha256 VARCHAR,
            baseline VARCHAR,
            final VARCHAR,
            stop_reason VARCHAR,
            rounds_done INTEGER,
            baseline_correct BOOLEAN,
            final_correct BOOLEAN,
            seconds DOUBLE,
            error VARCHAR,
            finished_at TIMESTAMP,
            PRIMARY KEY (run_id, item_no)
        )
        """
    )
    con.execute("CREATE TEMPORARY TABLE key_map (run_id VARCHAR, item_key VARCHAR, item_no INT)")
    runs = con.execute("SELECT id, config FROM runs WHERE kind = 'benchmark'").fetchall()
    for run_id, config_text in runs:
        config = json.loads(config_text)
        units = _v4_units(config)
        con.executemany(
            "INSERT INTO key_map VALUES (?, ?, ?)",
            [[run_id, key, no] for no, (key, *_rest) in enumerate(units)],
        )
        con.executemany(
            """
            INSERT INTO run_items (run_id, item_no, kind, question_id, model_name,
                                   other_model_name, category, status)
            SELECT ?, ?, ?, ?, ?, ?, coalesce(
                (SELECT category FROM questions WHERE suite = ? AND id = ?), ''), 'pending'
            """,
            [
                [run_id, no, kind, qid, model, other, config["suite"], qid]
                for no, (_key, kind, qid, model, other) in enumerate(units)
            ],
        )
        con.execute("UPDATE runs SET total_units = ? WHERE id = ?", [len(units), run_id])
    # Finished units keep what they recorded.
    con.execute(
        """
        UPDATE run_items SET status = o.status, category = o.category,
               model_sha256 = o.model_sha256, baseline = o.baseline, final = o.final,
               stop_reason = o.stop_reason, rounds_done = o.rounds_done,
               baseline_correct = o.baseline_correct, final_correct = o.final_correct,
               seconds = o.seconds, error = o.error, finished_at = o.created_at
        FROM run_items_v4 o JOIN key_map k ON k.run_id = o.run_id AND k.item_key = o.item_key
        WHERE run_items.run_id = k.run_id AND run_items.item_no = k.item_no
        """
    )
    for table, old in (
        ("generations", "item_key"),
        ("judgments", "item_key"),
        ("votes", "pair_key"),
    ):
        con.execute(f"ALTER TABLE {table} ADD COLUMN item_no INTEGER")
        con.execute(
            f"UPDATE {table} SET item_no = k.item_no FROM key_map k "
            f"WHERE {table}.run_id = k.run_id AND {table}.{old} = k.item_key"
        )
    con.execute("DROP INDEX generations_run")  # DuckDB alters no table with an index on it
    for table, old in (
        ("generations", "item_key"),
        ("judgments", "item_key"),
        ("votes", "pair_key"),
    ):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {old}")
    con.execute("CREATE INDEX generations_run ON generations(run_id)")
    con.execute("DROP TABLE run_items_v4")
    con.execute("DROP TABLE key_map")


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_initial,
    _m002_refinement,
    _m003_benchmarks,
    _m004_model_memory,
    _m005_typed_item_keys,
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
