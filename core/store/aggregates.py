"""The aggregate queries behind the Trade-offs and Costs pages, done in DuckDB, not pandas, so
they stay fast on millions of stored generations. Every query takes an optional run id."""

from __future__ import annotations

import pandas as pd

from core.store.database import Database
from core.store.items import ITEM_SCORES_CTE

# Seconds and tokens per finished answer: round 0 is the baseline step alone; the second row
# per model is the whole answer, every refinement round included, labelled with the deepest
# round reached. Averaging whole answers keeps items that stopped early in the mean.
COST_BY_ROUND_SQL = """
WITH per_item AS (
    SELECT g.model_name, g.run_id, g.item_no,
           max(coalesce(g.round, 0)) AS last_round,
           sum(g.total_s) FILTER (WHERE g.kind = 'baseline') AS base_seconds,
           sum(g.prompt_tokens) FILTER (WHERE g.kind = 'baseline') AS base_prompt_tokens,
           sum(g.completion_tokens) FILTER (WHERE g.kind = 'baseline') AS base_tokens,
           sum(g.total_s) AS seconds, sum(g.prompt_tokens) AS prompt_tokens,
           sum(g.completion_tokens) AS completion_tokens
    FROM generations g
    JOIN run_items i ON i.run_id = g.run_id AND i.item_no = g.item_no AND i.status = 'done'
    WHERE CAST(? AS VARCHAR) IS NULL OR g.run_id = ?
    GROUP BY ALL
)
SELECT model_name AS model, 0 AS round, count(*) AS answers,
       avg(base_seconds) AS seconds_per_answer,
       avg(base_prompt_tokens) AS prompt_tokens_per_answer,
       avg(base_tokens) AS completion_tokens_per_answer
FROM per_item GROUP BY ALL
UNION ALL
SELECT model_name, max(last_round), count(*), avg(seconds), avg(prompt_tokens),
       avg(completion_tokens)
FROM per_item GROUP BY model_name HAVING max(last_round) > 0
ORDER BY model, round
"""

ENGINE_SQL = """
SELECT g.model_name AS model, count(*) AS generations,
       avg(g.gen_tokens_per_s) AS tokens_per_s, avg(g.ttft_s) AS ttft_s,
       max(g.peak_rss_mb) AS peak_rss_mb, max(g.model_memory_mb) AS model_memory_mb,
       any_value(m.file_size) AS file_size,
       any_value(m.quantization) AS quantization, any_value(m.size_label) AS size_label
FROM generations g LEFT JOIN models m ON m.sha256 = g.model_sha256
WHERE CAST(? AS VARCHAR) IS NULL OR g.run_id = ?
GROUP BY ALL ORDER BY model
"""

# Quality per model (and per category or rounds setting) and per judge, from each source
# separately: reference checks where the question has one, and the judge (its expected rating
# where token probabilities were stored, else its sampled one, on [0, 1]) only for answers
# without a reference check. Which judge may count is decided by core/ranking/quality.py.
# Judged: no reference check, and both the baseline and the refined answer rated, so the two
# means cover the same answers.
JUDGED = "final_correct IS NULL AND baseline_rating IS NOT NULL AND refined_rating IS NOT NULL"
PERFORMANCE_SQL = f"""
WITH {ITEM_SCORES_CTE},
answers AS (
    SELECT i.model_name AS model, i.category,
           CAST(r.config->>'rounds' AS INTEGER) AS rounds_setting,
           json_extract_string(r.config, '$.judge.name') AS judge,
           i.baseline_correct, i.final_correct,
           -- Expected scores only where both sides have one, so baseline and refined are
           -- always on the same footing.
           (CASE WHEN s.baseline_expected IS NOT NULL AND s.refined_expected IS NOT NULL
                 THEN s.baseline_expected ELSE s.baseline_score END - 1) / 9 AS baseline_rating,
           (CASE WHEN s.baseline_expected IS NOT NULL AND s.refined_expected IS NOT NULL
                 THEN s.refined_expected ELSE s.refined_score END - 1) / 9 AS refined_rating
    FROM run_items i
    JOIN runs r ON r.id = i.run_id
    LEFT JOIN item_scores s ON s.run_id = i.run_id AND s.item_no = i.item_no
    WHERE i.kind = 'answer' AND i.status = 'done'
      AND (CAST(? AS VARCHAR) IS NULL OR i.run_id = ?)
)
SELECT model, {{group}} judge, count(*) AS items,
       count(final_correct) AS reference_items,
       avg(CAST(baseline_correct AS DOUBLE)) AS baseline_accuracy,
       avg(CAST(final_correct AS DOUBLE)) AS final_accuracy,
       count(*) FILTER (WHERE {JUDGED}) AS judged_items,
       avg(baseline_rating) FILTER (WHERE {JUDGED}) AS judge_baseline,
       avg(refined_rating) FILTER (WHERE {JUDGED}) AS judge_refined
FROM answers
GROUP BY ALL ORDER BY ALL
"""


class Aggregates:
    def __init__(self, db: Database):
        self.db = db

    def cost_by_round(self, run_id: str | None = None) -> pd.DataFrame:
        return self.db.query_df(COST_BY_ROUND_SQL, [run_id, run_id])

    def engine_costs(self, run_id: str | None = None) -> pd.DataFrame:
        return self.db.query_df(ENGINE_SQL, [run_id, run_id])

    def quality_parts(self, run_id: str | None = None, by: str | None = None) -> pd.DataFrame:
        """Quality from each source per model and judge; also per `by` ("category" or
        "rounds_setting") when given."""
        if by not in (None, "category", "rounds_setting"):
            raise ValueError(f"cannot group quality by {by!r}")
        sql = PERFORMANCE_SQL.format(group=f"{by}," if by else "")
        return self.db.query_df(sql, [run_id, run_id, run_id, run_id])
