"""The evidence about each judge, aggregated from its own judgments (see
core/evaluation/reliability.py for what it means). Every query takes a run id or None for
all runs, and groups by judge."""

from __future__ import annotations

import pandas as pd

from core.store.database import Database

RUN_FILTER = "(CAST(? AS VARCHAR) IS NULL OR j.run_id = ?)"

COUNTS_SQL = f"""
SELECT j.judge_name AS judge, count(*) AS judgments,
       count(*) FILTER (WHERE j.status = 'ok') AS parsed,
       coalesce(NOT bool_or(m.has_chat_template), false) AS base_model
FROM judgments j LEFT JOIN models m ON m.sha256 = j.judge_sha256
WHERE {RUN_FILTER}
GROUP BY j.judge_name ORDER BY j.judge_name
"""

RATINGS_SQL = f"""
SELECT j.judge_name AS judge, j.score AS rating, count(*) AS n
FROM judgments j
WHERE j.kind = 'single' AND j.status = 'ok' AND {RUN_FILTER}
GROUP BY ALL ORDER BY judge, rating
"""

# A pair is consistent when both presentation orders name the same winner: A in order AB and
# B in order BA are both the first answer.
CONSISTENCY_SQL = f"""
WITH orders AS (
    SELECT j.judge_name, j.run_id, j.item_no,
           max(j.verdict) FILTER (WHERE j.order_ab = 'AB' AND j.status = 'ok') AS ab,
           max(j.verdict) FILTER (WHERE j.order_ab = 'BA' AND j.status = 'ok') AS ba
    FROM judgments j
    WHERE j.kind = 'pair' AND {RUN_FILTER}
    GROUP BY ALL
)
SELECT judge_name AS judge,
       count(*) FILTER (WHERE ab IS NOT NULL AND ba IS NOT NULL) AS pairs,
       count(*) FILTER (WHERE (ab = 'A' AND ba = 'B') OR (ab = 'B' AND ba = 'A')
                        OR (ab = 'tie' AND ba = 'tie')) AS consistent
FROM orders GROUP BY judge_name ORDER BY judge_name
"""

# The judge's rating of each answer that has a reference check, with the check's result; the
# expected rating where stored, which ties far less often than the sampled one.
REFERENCE_SQL = f"""
SELECT j.judge_name AS judge, coalesce(j.expected_score, j.score) AS rating,
       CASE j.subject WHEN 'baseline' THEN i.baseline_correct ELSE i.final_correct END
           AS correct
FROM judgments j
JOIN run_items i ON i.run_id = j.run_id AND i.item_no = j.item_no
WHERE j.kind = 'single' AND j.status = 'ok' AND {RUN_FILTER}
  AND CASE j.subject WHEN 'baseline' THEN i.baseline_correct ELSE i.final_correct END
      IS NOT NULL
ORDER BY judge
"""


class JudgeTable:
    def __init__(self, db: Database):
        self.db = db

    def _query(self, sql: str, run_id: str | None) -> pd.DataFrame:
        return self.db.query_df(sql, [run_id, run_id])

    def counts(self, run_id: str | None = None) -> pd.DataFrame:
        """Per judge: judgments, parsed, and whether it is a base model."""
        return self._query(COUNTS_SQL, run_id)

    def rating_counts(self, run_id: str | None = None) -> pd.DataFrame:
        return self._query(RATINGS_SQL, run_id)

    def consistency(self, run_id: str | None = None) -> pd.DataFrame:
        return self._query(CONSISTENCY_SQL, run_id)

    def reference_ratings(self, run_id: str | None = None) -> pd.DataFrame:
        return self._query(REFERENCE_SQL, run_id)

    def runs_with_votes(self, run_id: str | None = None) -> list[tuple[str, str]]:
        """(run id, judge name) of judged runs that have arena votes."""
        return self.db.rows(
            "SELECT DISTINCT r.id, json_extract_string(r.config, '$.judge.name') FROM runs r "
            "JOIN votes v ON v.run_id = r.id "
            "WHERE (CAST(? AS VARCHAR) IS NULL OR r.id = ?) "
            "AND json_extract_string(r.config, '$.judge.name') IS NOT NULL ORDER BY r.id",
            [run_id, run_id],
        )
