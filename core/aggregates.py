"""The aggregate queries behind the Trade-offs and Costs pages, done in DuckDB, not pandas, so
they stay fast on millions of stored generations. Every query takes an optional run id."""

from __future__ import annotations

import pandas as pd

from core.store import Store

# Seconds and tokens per finished answer: round 0 is the baseline step alone; the second row
# per model is the whole answer, every refinement round included, labelled with the deepest
# round reached. Averaging whole answers keeps items that stopped early in the mean.
COST_BY_ROUND_SQL = """
WITH per_item AS (
    SELECT g.model_name, g.run_id, g.item_key,
           max(coalesce(g.round, 0)) AS last_round,
           sum(g.total_s) FILTER (WHERE g.kind = 'baseline') AS base_seconds,
           sum(g.prompt_tokens) FILTER (WHERE g.kind = 'baseline') AS base_prompt_tokens,
           sum(g.completion_tokens) FILTER (WHERE g.kind = 'baseline') AS base_tokens,
           sum(g.total_s) AS seconds, sum(g.prompt_tokens) AS prompt_tokens,
           sum(g.completion_tokens) AS completion_tokens
    FROM generations g
    JOIN run_items i ON i.run_id = g.run_id AND i.item_key = g.item_key AND i.status = 'done'
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

# Judge scores per model: baseline and refined means with normal-approximation intervals
# (n is large where this query matters), plus reference accuracy where a reference exists.
PERFORMANCE_SQL = """
WITH scores AS (
    SELECT i.model_name, i.category, i.run_id, i.item_key, i.baseline_correct, i.final_correct,
           max(j.score) FILTER (WHERE j.kind = 'single' AND j.subject = 'baseline'
                                AND j.status = 'ok') AS baseline_score,
           max(j.score) FILTER (WHERE j.kind = 'single' AND j.subject = 'refined'
                                AND j.status = 'ok') AS refined_score
    FROM run_items i
    LEFT JOIN judgments j ON j.run_id = i.run_id AND j.item_key = i.item_key
    WHERE i.kind = 'answer' AND i.status = 'done'
      AND (CAST(? AS VARCHAR) IS NULL OR i.run_id = ?)
    GROUP BY ALL
)
SELECT model_name AS model, {group} count(*) AS items,
       count(baseline_score) AS scored,
       avg(baseline_score) AS baseline_score,
       1.96 * stddev_samp(baseline_score) / sqrt(count(baseline_score)) AS baseline_half_ci,
       avg(refined_score) AS refined_score,
       1.96 * stddev_samp(refined_score) / sqrt(count(refined_score)) AS refined_half_ci,
       count(final_correct) AS reference_items,
       avg(CAST(baseline_correct AS DOUBLE)) AS baseline_accuracy,
       avg(CAST(final_correct AS DOUBLE)) AS final_accuracy
FROM scores GROUP BY ALL ORDER BY ALL
"""

ROUNDS_SQL = """
SELECT i.model_name AS model, CAST(r.config->>'rounds' AS INTEGER) AS rounds_setting,
       count(DISTINCT i.item_key) AS items,
       avg(j.score) FILTER (WHERE j.subject = 'baseline') AS baseline_score,
       avg(j.score) FILTER (WHERE j.subject = 'refined') AS refined_score
FROM run_items i
JOIN runs r ON r.id = i.run_id
JOIN judgments j ON j.run_id = i.run_id AND j.item_key = i.item_key
WHERE i.kind = 'answer' AND j.kind = 'single' AND j.status = 'ok'
GROUP BY ALL ORDER BY model, rounds_setting
"""


def _params(run_id: str | None) -> list:
    return [run_id, run_id]


def cost_by_round(store: Store, run_id: str | None = None) -> pd.DataFrame:
    return store.query_df(COST_BY_ROUND_SQL, _params(run_id))


def engine_costs(store: Store, run_id: str | None = None) -> pd.DataFrame:
    return store.query_df(ENGINE_SQL, _params(run_id))


def performance(store: Store, run_id: str | None = None, by_category: bool = False) -> pd.DataFrame:
    sql = PERFORMANCE_SQL.format(group="category," if by_category else "")
    return store.query_df(sql, _params(run_id))


def improvement_by_rounds(store: Store) -> pd.DataFrame:
    df = store.query_df(ROUNDS_SQL)
    df["improvement_pct"] = (df.refined_score - df.baseline_score) / df.baseline_score * 100
    return df
