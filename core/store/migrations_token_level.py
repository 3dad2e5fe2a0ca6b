"""Schema steps from migration 8 on (token-level evaluation: likelihood suites, quantization
ladders; the classification workbench). core/store/migrations.py holds the earlier steps and
lists them all in order; like those, a step here is never edited once released, only
followed by a new one."""

from __future__ import annotations

import duckdb  # noqa: F401  (the steps below take a DuckDB connection)


def _m008_likelihood(con: duckdb.DuckDBPyConnection) -> None:
    """Multiple-choice questions keep their choices (the right one is the question's reference,
    of kind `choice`). Likelihood runs store every continuation a model scored for a unit: each
    choice of a multiple-choice question, or a question's reference answer, with its summed
    log-probability and lengths; accuracy and bits per byte are derived from these rows."""
    con.execute("ALTER TABLE questions ADD COLUMN choices JSON")
    con.execute(
        """
        CREATE TABLE likelihood_scores (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            choice INTEGER NOT NULL,
            text VARCHAR NOT NULL,
            is_answer BOOLEAN NOT NULL,
            logprob DOUBLE NOT NULL,
            n_tokens INTEGER NOT NULL,
            n_bytes INTEGER NOT NULL,
            n_chars INTEGER NOT NULL,
            context_tokens INTEGER NOT NULL,
            PRIMARY KEY (run_id, item_no, choice)
        )
        """
    )


def _m009_quantization_ladder(con: duckdb.DuckDBPyConnection) -> None:
    """A ladder run's measured rungs: one row per model (the source and each quantized copy),
    written with its unit in one transaction. Tensor types are JSON pairs [type, count]."""
    con.execute(
        """
        CREATE TABLE ladder_rungs (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            model_name VARCHAR NOT NULL,
            qtype VARCHAR NOT NULL,
            file_bytes BIGINT NOT NULL,
            tensor_types JSON NOT NULL,
            requantized BOOLEAN NOT NULL,
            memory_mb DOUBLE NOT NULL,
            prompt_tokens_per_s DOUBLE,
            gen_tokens_per_s DOUBLE,
            gen_tokens INTEGER NOT NULL,
            perplexity DOUBLE NOT NULL,
            perplexity_uncertainty DOUBLE NOT NULL,
            positions INTEGER NOT NULL,
            mean_kld DOUBLE,
            mean_kld_uncertainty DOUBLE,
            kld_p99 DOUBLE,
            same_top DOUBLE,
            same_top_uncertainty DOUBLE,
            rms_delta_p DOUBLE,
            ppl_ratio DOUBLE,
            quality DOUBLE,
            quality_low DOUBLE,
            quality_high DOUBLE,
            quality_n INTEGER NOT NULL,
            PRIMARY KEY (run_id, item_no)
        )
        """
    )


def _m010_classification(con: duckdb.DuckDBPyConnection) -> None:
    """The classification workbench: datasets of texts (with any gold labels as imported),
    codebooks and their labels, the labels each coding unit proposed, and reviewers'
    decisions. A review is never deleted by undo, only marked undone, so every decision
    stays on record with its reviewer and time."""
    con.execute(
        """
        CREATE TABLE cls_datasets (
            name VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_texts (
            dataset VARCHAR NOT NULL,
            text_id VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            text VARCHAR NOT NULL,
            PRIMARY KEY (dataset, text_id)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_gold (
            dataset VARCHAR NOT NULL,
            text_id VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            intensity VARCHAR,
            PRIMARY KEY (dataset, text_id, label)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_codebooks (
            name VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,
            instructions VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_labels (
            codebook VARCHAR NOT NULL,
            code VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            description VARCHAR NOT NULL,
            examples JSON NOT NULL,
            parent VARCHAR,
            PRIMARY KEY (codebook, code)
        )
        """
    )
    # One row per label a coding unit proposed; the unit's raw answer and seconds are in
    # run_items (final, seconds), its prompt size here beside its labels.
    con.execute(
        """
        CREATE TABLE cls_proposals (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            position INTEGER NOT NULL,
            label VARCHAR NOT NULL,
            confidence DOUBLE,
            intensity VARCHAR,
            PRIMARY KEY (run_id, item_no, position)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_codings (
            run_id VARCHAR NOT NULL,
            item_no INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            PRIMARY KEY (run_id, item_no)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_reviews (
            id VARCHAR PRIMARY KEY,
            dataset VARCHAR NOT NULL,
            codebook VARCHAR NOT NULL,
            text_id VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            unclear BOOLEAN NOT NULL,
            note VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            undone_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_review_labels (
            review_id VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            intensity VARCHAR,
            PRIMARY KEY (review_id, label)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cls_assignments (
            dataset VARCHAR NOT NULL,
            codebook VARCHAR NOT NULL,
            text_id VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset, codebook, text_id, reviewer)
        )
        """
    )
