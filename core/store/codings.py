"""Coding runs' proposed labels: one row per label a model proposed for a text, written with
its unit in one transaction, and the per-coder figures derived from them in SQL."""

from __future__ import annotations

import pandas as pd

from core.store.database import Database
from core.store.items import record_outcome
from core.types import ItemOutcome
from core.types.classification import Coding

# Every finished coding unit of the chosen runs (NULL: all) on one dataset and codebook, with
# the coder it belongs to. Parameters: dataset, codebook, run ids or NULL twice.
CODED_UNITS_CTE = """
coded AS (
    SELECT i.run_id, i.item_no, i.model_name AS model, i.question_id AS text_id, i.status,
           i.seconds, i.final AS raw, CAST(r.config->>'shots' AS INTEGER) AS shots,
           c.prompt_tokens
    FROM run_items i
    JOIN runs r ON r.id = i.run_id AND r.kind = 'coding'
    LEFT JOIN cls_codings c ON c.run_id = i.run_id AND c.item_no = i.item_no
    WHERE r.config->>'dataset' = ? AND r.config->>'codebook' = ?
      AND i.status <> 'pending'
      AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(?, i.run_id))
)
"""


class CodingTable:
    def __init__(self, db: Database):
        self.db = db

    def finish(
        self, run_id: str, item_no: int, outcome: ItemOutcome, coding: Coding | None = None
    ) -> None:
        """The unit's outcome and its proposed labels in one transaction, replacing any an
        earlier attempt left: a unit is done (with all its labels) or pending."""
        with self.db.transaction() as con:
            for table in ("cls_proposals", "cls_codings"):
                con.execute(
                    f"DELETE FROM {table} WHERE run_id = ? AND item_no = ?", [run_id, item_no]
                )
            if coding is not None:
                con.execute(
                    "INSERT INTO cls_codings VALUES (?, ?, ?)",
                    [run_id, item_no, coding.prompt_tokens],
                )
                if coding.labels:
                    con.executemany(
                        "INSERT INTO cls_proposals VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            [run_id, item_no, n, p.code, p.confidence, p.intensity]
                            for n, p in enumerate(coding.labels)
                        ],
                    )
            record_outcome(con, run_id, item_no, outcome)

    def proposals(
        self, dataset: str, codebook: str, run_ids: list[str] | None = None
    ) -> pd.DataFrame:
        """One row per proposed label of every done unit: run_id, model, shots, text_id,
        position, label, confidence, intensity."""
        return self.db.query_df(
            f"""
            WITH {CODED_UNITS_CTE}
            SELECT c.run_id, c.model, c.shots, c.text_id, p.position, p.label, p.confidence,
                   p.intensity
            FROM coded c JOIN cls_proposals p ON p.run_id = c.run_id AND p.item_no = c.item_no
            WHERE c.status = 'done'
            ORDER BY c.run_id, c.model, c.text_id, p.position
            """,
            [dataset, codebook, run_ids, run_ids],
        )

    def units(self, dataset: str, codebook: str, run_ids: list[str] | None = None) -> pd.DataFrame:
        """Every finished unit: run_id, item_no, model, shots, text_id, status, seconds, raw
        answer, prompt tokens."""
        return self.db.query_df(
            f"WITH {CODED_UNITS_CTE} SELECT * FROM coded ORDER BY run_id, model, text_id",
            [dataset, codebook, run_ids, run_ids],
        )

    def speeds(self, dataset: str, codebook: str, run_ids: list[str] | None = None) -> pd.DataFrame:
        """Per coder (run and model): texts coded, failures, mean and total seconds per text,
        and mean prompt tokens: what cost per 1,000 texts is computed from."""
        return self.db.query_df(
            f"""
            WITH {CODED_UNITS_CTE}
            SELECT run_id, model, shots,
                   count(*) FILTER (WHERE status = 'done') AS texts,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   avg(seconds) FILTER (WHERE status = 'done') AS seconds_per_text,
                   stddev_samp(seconds) FILTER (WHERE status = 'done') AS seconds_sd,
                   sum(seconds) FILTER (WHERE status = 'done') AS seconds_total,
                   avg(prompt_tokens) FILTER (WHERE status = 'done') AS prompt_tokens
            FROM coded GROUP BY ALL ORDER BY run_id, model
            """,
            [dataset, codebook, run_ids, run_ids],
        )

    def model_files(
        self, dataset: str, codebook: str, run_ids: list[str] | None = None
    ) -> pd.DataFrame:
        """Per coder (run and model): the size in bytes and the size label (parameters, e.g.
        "135M") of the model file that coded its texts, as the models table recorded them
        (NULL when it did not)."""
        return self.db.query_df(
            f"""
            WITH {CODED_UNITS_CTE}
            SELECT c.run_id, c.model, c.shots, any_value(m.file_size) AS file_size,
                   any_value(m.size_label) AS size_label
            FROM coded c
            JOIN run_items i ON i.run_id = c.run_id AND i.item_no = c.item_no
            LEFT JOIN models m ON m.sha256 = i.model_sha256
            WHERE c.status = 'done'
            GROUP BY ALL ORDER BY c.run_id, c.model
            """,
            [dataset, codebook, run_ids, run_ids],
        )

    def runs(self) -> pd.DataFrame:
        """Every coding run, newest first, with its dataset, codebook, shots and progress."""
        return self.db.query_df(
            """
            SELECT r.id, r.status, r.created_at, r.finished_at, r.error,
                   r.config->>'dataset' AS dataset, r.config->>'codebook' AS codebook,
                   CAST(r.config->>'shots' AS INTEGER) AS shots,
                   CAST(r.config->>'multi_label' AS BOOLEAN) AS multi_label,
                   json_array_length(r.config->'text_ids') AS texts,
                   r.total_units,
                   count(i.item_no) FILTER (WHERE i.status <> 'pending') AS done_units,
                   count(i.item_no) FILTER (WHERE i.status = 'failed') AS failed_units,
                   string_agg(DISTINCT i.model_name, ', ' ORDER BY i.model_name) AS models
            FROM runs r LEFT JOIN run_items i ON i.run_id = r.id
            WHERE r.kind = 'coding'
            GROUP BY ALL ORDER BY r.created_at DESC
            """
        )
