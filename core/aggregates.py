"""The aggregate queries behind the Trade-offs and Costs pages, done in DuckDB, not pandas, so
they stay fast on millions of stored generations. Every query takes an optional run id."""

from __future__ import annotations

import pandas as pd

from core.store import Store

# Seconds and tokens per answer, up to and including each refinement round. Round 0 is the
# baseline alone; round k adds the critique, verdict and rewrite of rounds 1..k.
COST_BY_ROUND_SQL = """
WITH per_item AS (
    SELECT model_name, run_id, item_key, coalesce(round, 0) AS round,
           sum(total_s) AS seconds, sum(prompt_tokens) AS prompt_tokens,
           sum(completion_tokens) AS completion_tokens
    FROM generations
    WHERE item_key IS NOT NULL AND (CAST(? AS VARCHAR) IS NULL OR run_id = ?)
    GROUP BY ALL
), cumulative AS (
    SELECT model_name, item_key, run_id, round,
           sum(seconds) OVER w AS seconds,
           sum(prompt_tokens) OVER w AS prompt_tokens,
           sum(completion_tokens) OVER w AS completion_tokens
    FROM per_item
    WINDOW w AS (PARTITION BY run_id, item_key ORDER BY round
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT model_name AS model, round, count(*) AS answers,
       avg(seconds) AS seconds_per_answer, avg(prompt_tokens) AS prompt_tokens_per_answer,
       avg(completion_tokens) AS completion_tokens_per_answer
FROM cumulative GROUP BY ALL ORDER BY model, round
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
