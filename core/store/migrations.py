"""The DuckDB schema as ordered, append-only migrations recorded in a version table.

Never edit a migration that has been released; add a new function at the end instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import combinations

import duckdb
import pandas as pd

from core.store.duck import now
from core.store.migrations_endpoints import _m013_endpoints
from core.store.migrations_learning import _m011_learning, _m012_curve_intervals
from core.store.migrations_token_level import (
    _m008_likelihood,
    _m009_quantization_ladder,
    _m010_classification,
)
from core.store.schema_check import refuse_newer


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


def _v4_key_map(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per unit of every version-4 benchmark run: run, old key, number, typed key,
    suite. A run whose configuration cannot be read gets no units (it is marked failed)."""
    rows = []
    for run_id, config_text in con.execute(
        "SELECT id, config FROM runs WHERE kind = 'benchmark'"
    ).fetchall():
        try:
            config = json.loads(config_text)
            units = _v4_units(config)
            suite = config["suite"]
        except (KeyError, TypeError, ValueError):
            con.execute(
                "UPDATE runs SET status = 'failed', error = 'configuration unreadable' "
                "WHERE id = ?",
                [run_id],
            )
            continue
        rows += [
            (run_id, key, no, kind, qid, model, other, suite)
            for no, (key, kind, qid, model, other) in enumerate(units)
        ]
    columns = ["run_id", "item_key", "item_no", "kind", "question_id", "model", "other", "suite"]
    table = pd.DataFrame(rows, columns=columns)
    text = [c for c in columns if c not in ("item_no", "other")]
    return table.astype({"item_no": "int64", **dict.fromkeys(text, "string")})


def _m005_typed_item_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Run units get a number and typed columns (kind, question, model, other model) instead
    of a formatted key string; every unit of a run exists from its creation ('pending' until
    done). Runs record their unit count, their owner process (pid and start time), a heartbeat
    and a stop request."""
    con.execute("ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP")
    con.execute("ALTER TABLE runs ADD COLUMN total_units INTEGER")
    con.execute("ALTER TABLE runs ADD COLUMN stop_requested BOOLEAN DEFAULT false")
    con.execute("ALTER TABLE runs ADD COLUMN owner_started_at DOUBLE")
    # Version 4 never recorded that a worker died; its "running" runs have no live owner now.
    con.execute(
        "UPDATE runs SET status = 'interrupted', error = 'interrupted before an upgrade' "
        "WHERE status = 'running'"
    )
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
    units = _v4_key_map(con)
    con.register("v4_units", units)
    con.execute(
        """
        INSERT INTO run_items (run_id, item_no, kind, question_id, model_name,
                               other_model_name, category, status)
        SELECT u.run_id, u.item_no, u.kind, u.question_id, u.model, CAST(u.other AS VARCHAR),
               coalesce(q.category, o.category, ''), 'pending'
        FROM v4_units u
        LEFT JOIN questions q ON q.suite = u.suite AND q.id = u.question_id
        LEFT JOIN run_items_v4 o ON o.run_id = u.run_id AND o.item_key = u.item_key
        """
    )
    con.execute(
        "CREATE TEMPORARY TABLE key_map AS SELECT CAST(run_id AS VARCHAR) AS run_id, "
        "CAST(item_key AS VARCHAR) AS item_key, CAST(item_no AS INTEGER) AS item_no FROM v4_units"
    )
    con.unregister("v4_units")
    # Finished rows whose key the configuration does not explain are kept, numbered after the
    # planned units, never dropped.
    con.execute(
        """
        INSERT INTO key_map
        SELECT o.run_id, o.item_key,
               coalesce((SELECT max(item_no) + 1 FROM run_items i WHERE i.run_id = o.run_id), 0)
               + row_number() OVER (PARTITION BY o.run_id ORDER BY o.created_at) - 1
        FROM run_items_v4 o ANTI JOIN key_map k ON k.run_id = o.run_id AND k.item_key = o.item_key
        """
    )
    con.execute(
        """
        INSERT INTO run_items (run_id, item_no, kind, question_id, model_name,
                               other_model_name, category, status)
        SELECT o.run_id, k.item_no, o.kind, o.question_id,
               coalesce(o.model_name, split_part(split_part(o.item_key, ':', 2), '|', 1)),
               CASE WHEN o.kind = 'pair'
                    THEN split_part(split_part(o.item_key, ':', 2), '|', 2) END,
               o.category, 'pending'
        FROM run_items_v4 o JOIN key_map k ON k.run_id = o.run_id AND k.item_key = o.item_key
        ANTI JOIN run_items i ON i.run_id = k.run_id AND i.item_no = k.item_no
        """
    )
    con.execute(
        "UPDATE runs SET total_units = (SELECT count(*) FROM run_items i WHERE i.run_id = runs.id) "
        "WHERE kind = 'benchmark'"
    )
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
    tables = (("generations", "item_key"), ("judgments", "item_key"), ("votes", "pair_key"))
    for table, old in tables:
        con.execute(f"ALTER TABLE {table} ADD COLUMN item_no INTEGER")
        con.execute(
            f"UPDATE {table} SET item_no = k.item_no FROM key_map k "
            f"WHERE {table}.run_id = k.run_id AND {table}.{old} = k.item_key"
        )
    con.execute("DROP INDEX generations_run")  # DuckDB alters no table with an index on it
    for table, old in tables:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {old}")
    con.execute("CREATE INDEX generations_run ON generations(run_id)")
    con.execute("DROP TABLE run_items_v4")
    con.execute("DROP TABLE key_map")


def _m006_judge_probabilities(con: duckdb.DuckDBPyConnection) -> None:
    """Probability-weighted verdicts beside the sampled ones: the expected rating over the
    judge's distribution on the allowed ratings, and P(A), P(B), P(tie) for a pair order."""
    for column in ("expected_score", "p_a", "p_b", "p_tie"):
        con.execute(f"ALTER TABLE judgments ADD COLUMN {column} DOUBLE")


def _m007_preferences(con: duckdb.DuckDBPyConnection) -> None:
    """Choices the user makes once and expects kept across sessions and processes (the
    hardware profile and its currency), as JSON by name."""
    con.execute(
        "CREATE TABLE preferences (name VARCHAR PRIMARY KEY, value JSON NOT NULL, "
        "updated_at TIMESTAMP NOT NULL)"
    )


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_initial,
    _m002_refinement,
    _m003_benchmarks,
    _m004_model_memory,
    _m005_typed_item_keys,
    _m006_judge_probabilities,
    _m007_preferences,
    _m008_likelihood,
    _m009_quantization_ladder,
    _m010_classification,
    _m011_learning,
    _m012_curve_intervals,
    _m013_endpoints,
]


def migrate(con: duckdb.DuckDBPyConnection, path: str | None = None) -> None:
    """Apply every migration the file lacks, each in its own transaction. A file already up
    to date, or written by a newer build (SchemaTooNew), is not written at all."""
    current = refuse_newer(con, len(MIGRATIONS), path)
    if current == len(MIGRATIONS):
        return
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP)"
    )
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
