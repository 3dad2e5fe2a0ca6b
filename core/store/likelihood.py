"""Likelihood runs' scored continuations, and the per-unit figures derived from them in SQL:
which choice wins by summed log-probability (acc) and by log-probability per character of
the choice (acc_norm, lm-evaluation-harness's), and a reference answer's bits per byte."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.store.database import Database
from core.store.items import record_outcome
from core.types import ContinuationScore, ItemOutcome

# One row per finished unit of a likelihood run. Ties go to the earlier choice, as numpy's
# argmax in lm-evaluation-harness does. 2^-bpb = exp(logprob / bytes): the geometric-mean
# probability per byte of the reference answer, on [0, 1]. Parameters: run id or NULL, 4 times.
UNITS_CTE = """
ranked AS (
    SELECT run_id, item_no, choice, is_answer, logprob, n_tokens, n_bytes,
           row_number() OVER (PARTITION BY run_id, item_no
                              ORDER BY logprob DESC, choice) AS by_sum,
           row_number() OVER (PARTITION BY run_id, item_no
                              ORDER BY logprob / n_chars DESC, choice) AS by_norm
    FROM likelihood_scores
    WHERE CAST(? AS VARCHAR) IS NULL OR run_id = ?
),
per_unit AS (
    SELECT run_id, item_no, count(*) AS choices,
           max(choice) FILTER (WHERE is_answer) AS gold,
           max(choice) FILTER (WHERE by_sum = 1) AS predicted,
           max(choice) FILTER (WHERE by_norm = 1) AS predicted_norm,
           sum(logprob) FILTER (WHERE is_answer) AS answer_logprob,
           sum(n_tokens) FILTER (WHERE is_answer) AS answer_tokens,
           sum(n_bytes) FILTER (WHERE is_answer) AS answer_bytes
    FROM ranked GROUP BY run_id, item_no
),
units AS (
    SELECT i.run_id, i.item_no, i.kind, i.model_name AS model, i.question_id, i.category,
           i.status, i.error, i.seconds, p.choices, p.gold, p.predicted, p.predicted_norm,
           CASE WHEN i.kind = 'mc_likelihood' THEN p.predicted = p.gold END AS correct,
           CASE WHEN i.kind = 'mc_likelihood' THEN p.predicted_norm = p.gold END AS correct_norm,
           p.answer_logprob, p.answer_tokens, p.answer_bytes,
           CASE WHEN i.kind = 'reference_likelihood'
                THEN -p.answer_logprob / ln(2) / p.answer_bytes END AS bits_per_byte,
           CASE WHEN i.kind = 'reference_likelihood'
                THEN exp(p.answer_logprob / p.answer_bytes) END AS reference_score
    FROM run_items i
    JOIN runs r ON r.id = i.run_id AND r.kind = 'likelihood'
    LEFT JOIN per_unit p ON p.run_id = i.run_id AND p.item_no = i.item_no
    WHERE i.status <> 'pending' AND (CAST(? AS VARCHAR) IS NULL OR i.run_id = ?)
)
"""

# Quality parts per model (and category): counts and sums, with the reference scores listed
# for a bootstrap interval. Only units that finished.
QUALITY_SQL = f"""
WITH {UNITS_CTE}
SELECT model, {{group}}
       count(*) AS items,
       count(*) FILTER (WHERE kind = 'mc_likelihood') AS mc_items,
       count(*) FILTER (WHERE correct) AS mc_correct,
       count(*) FILTER (WHERE correct_norm) AS mc_correct_norm,
       count(reference_score) AS reference_items,
       coalesce(list(reference_score ORDER BY run_id, item_no)
                FILTER (WHERE reference_score IS NOT NULL), []) AS reference_scores
FROM units WHERE status = 'done'
GROUP BY ALL ORDER BY ALL
"""

SPEEDS_SQL = f"""
WITH {UNITS_CTE}
SELECT model, kind, avg(seconds) AS seconds, count(*) AS n
FROM units WHERE status = 'done' AND seconds IS NOT NULL
GROUP BY ALL
"""


class LikelihoodTable:
    def __init__(self, db: Database):
        self.db = db

    def finish(
        self,
        run_id: str,
        item_no: int,
        outcome: ItemOutcome,
        scores: Sequence[ContinuationScore] = (),
    ) -> None:
        """The unit's outcome and its scored continuations in one transaction, replacing any
        an earlier attempt left: a unit is done (with all its rows) or pending."""
        with self.db.transaction() as con:
            con.execute(
                "DELETE FROM likelihood_scores WHERE run_id = ? AND item_no = ?", [run_id, item_no]
            )
            if scores:
                con.executemany(
                    "INSERT INTO likelihood_scores (run_id, item_no, choice, text, is_answer, "
                    "logprob, n_tokens, n_bytes, n_chars, context_tokens) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        [
                            run_id,
                            item_no,
                            s.choice,
                            s.text,
                            s.is_answer,
                            s.logprob,
                            s.n_tokens,
                            s.n_bytes,
                            s.n_chars,
                            s.context_tokens,
                        ]
                        for s in scores
                    ],
                )
            record_outcome(con, run_id, item_no, outcome)

    def units(self, run_id: str) -> pd.DataFrame:
        """Every finished (done or failed) unit of a likelihood run with its derived figures."""
        return self.db.query_df(
            f"WITH {UNITS_CTE} SELECT * FROM units ORDER BY model, item_no",
            [run_id] * 4,
        )

    def scores(self, run_id: str, item_no: int) -> pd.DataFrame:
        """One unit's scored continuations, in choice order."""
        return self.db.query_df(
            "SELECT choice, text, is_answer, logprob, n_tokens, n_bytes, n_chars, "
            "logprob / n_chars AS logprob_per_char FROM likelihood_scores "
            "WHERE run_id = ? AND item_no = ? ORDER BY choice",
            [run_id, item_no],
        )

    def quality_parts(self, run_id: str | None = None, by: str | None = None) -> pd.DataFrame:
        """Per model (and per `by`, "category"): MC units and how many each rule got right,
        reference units and their scores. Over every likelihood run when run_id is None."""
        if by not in (None, "category"):
            raise ValueError(f"cannot group likelihood quality by {by!r}")
        sql = QUALITY_SQL.format(group=f"{by}," if by else "")
        return self.db.query_df(sql, [run_id] * 4)

    def unit_speeds(self) -> pd.DataFrame:
        """Mean seconds per finished likelihood unit by model and kind, with n."""
        return self.db.query_df(SPEEDS_SQL, [None] * 4)
