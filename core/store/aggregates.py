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

# Judge scores per model: baseline and refined means with their counts, plus reference
# accuracy where a reference exists.
PERFORMANCE_SQL = f"""
WITH {ITEM_SCORES_CTE}
SELECT i.model_name AS model, {{group}} count(*) AS items,
       count(s.baseline_score) AS scored,
       avg(s.baseline_score) AS baseline_score,
       avg(s.refined_score) AS refined_score,
       count(i.final_correct) AS reference_items,
       avg(CAST(i.baseline_correct AS DOUBLE)) AS baseline_accuracy,
       avg(CAST(i.final_correct AS DOUBLE)) AS final_accuracy
FROM run_items i
LEFT JOIN item_scores s ON s.run_id = i.run_id AND s.item_no = i.item_no
WHERE i.kind = 'answer' AND i.status = 'done'
  AND (CAST(? AS VARCHAR) IS NULL OR i.run_id = ?)
GROUP BY ALL ORDER BY ALL
"""

# Mean judge scores per model and rounds setting, over answers with at least one score.
ROUNDS_SQL = f"""
WITH {ITEM_SCORES_CTE}
SELECT i.model_name AS model, CAST(r.config->>'rounds' AS INTEGER) AS rounds_setting,
       count(*) AS items,
       avg(s.baseline_score) AS baseline_score,
       avg(s.refined_score) AS refined_score
FROM run_items i
JOIN runs r ON r.id = i.run_id
JOIN item_scores s ON s.run_id = i.run_id AND s.item_no = i.item_no
WHERE i.kind = 'answer'
  AND (s.baseline_score IS NOT NULL OR s.refined_score IS NOT NULL)
GROUP BY ALL ORDER BY model, rounds_setting
"""


class Aggregates:
    def __init__(self, db: Database):
        self.db = db

    def cost_by_round(self, run_id: str | None = None) -> pd.DataFrame:
        return self.db.query_df(COST_BY_ROUND_SQL, [run_id, run_id])

    def engine_costs(self, run_id: str | None = None) -> pd.DataFrame:
        return self.db.query_df(ENGINE_SQL, [run_id, run_id])

    def performance(self, run_id: str | None = None, by_category: bool = False) -> pd.DataFrame:
        sql = PERFORMANCE_SQL.format(group="i.category," if by_category else "")
        return self.db.query_df(sql, [run_id, run_id, run_id, run_id])

    def scores_by_rounds(self) -> pd.DataFrame:
        """Baseline and refined mean scores per model and rounds setting, over all runs."""
        return self.db.query_df(ROUNDS_SQL, [None, None])
