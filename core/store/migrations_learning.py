"""Schema steps from migration 11 on (learning from labelled texts: LoRA fine-tuning and
learning curves). core/store/migrations.py lists every step in order; a step here is never
edited once released, only followed by a new one."""

from __future__ import annotations

import duckdb  # noqa: F401  (the steps below take a DuckDB connection)


def _m011_learning(con: duckdb.DuckDBPyConnection) -> None:
    """A fine-tuning run's optimiser steps (its loss curve and speed) and its validation losses;
    a learning curve's points, one row per metric of one method trained on n labelled texts in
    one seeded repeat and measured on the curve's held-out texts."""
    con.execute(
        """
        CREATE TABLE ft_steps (
            run_id VARCHAR NOT NULL,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            loss DOUBLE NOT NULL,
            tokens INTEGER NOT NULL,
            seconds DOUBLE NOT NULL,
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, step)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE ft_validation (
            run_id VARCHAR NOT NULL,
            step INTEGER NOT NULL,
            loss DOUBLE NOT NULL,
            n_examples INTEGER NOT NULL,
            PRIMARY KEY (run_id, step)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE curve_points (
            run_id VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            n_train INTEGER NOT NULL,
            repeat INTEGER NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            n_texts INTEGER NOT NULL,
            train_seconds DOUBLE NOT NULL,
            code_seconds DOUBLE NOT NULL,
            coding_run_id VARCHAR,
            PRIMARY KEY (run_id, method, model, n_train, repeat, metric)
        )
        """
    )


def _m012_curve_intervals(con: duckdb.DuckDBPyConnection) -> None:
    """A curve point's bootstrap interval over the held-out texts (what a point measured once
    shows as its interval) and why a value is missing (a method that could not learn from the
    point's texts, or a metric undefined for them)."""
    con.execute("ALTER TABLE curve_points ADD COLUMN low DOUBLE")
    con.execute("ALTER TABLE curve_points ADD COLUMN high DOUBLE")
    con.execute("ALTER TABLE curve_points ADD COLUMN reason VARCHAR")
