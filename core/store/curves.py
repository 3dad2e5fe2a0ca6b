"""Learning curves' measured points (core/evaluation/curve.py): one row per metric of one
method of one model trained on n labelled texts in one seeded repeat; and their aggregation
across repeats, and the curve's progress by method and model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.store.database import Database
from core.store.items import record_outcome
from core.types import ItemOutcome

# Across repeats, per method, model, n and metric (docs/learning.md, "Aggregation"):
# - mean: the mean of the repeats' values (repeats: how many have a value);
# - two or more repeats: the t-interval mean ± t(1 − α/2, repeats − 1) · sd / √repeats, sd the
#   sample standard deviation, clipped to [0, 1] (every stored metric lives there); the t
#   quantiles come in as a list whose element d (1-based) is the quantile for d degrees of
#   freedom;
# - one repeat: that point's own bootstrap interval over the held-out texts.
# Seconds are means over the repeats; n_texts the fewest texts a repeat's value counts.
AGGREGATE_SQL = """
WITH per_group AS (
    SELECT method, model, n_train, metric,
           count(value) AS repeats,
           count(*) AS points,
           avg(value) AS mean,
           stddev_samp(value) AS sd,
           any_value(low) FILTER (WHERE value IS NOT NULL) AS point_low,
           any_value(high) FILTER (WHERE value IS NOT NULL) AS point_high,
           min(n_texts) FILTER (WHERE value IS NOT NULL) AS n_texts,
           avg(train_seconds) AS train_seconds,
           avg(code_seconds) AS code_seconds,
           min(reason) FILTER (WHERE value IS NULL) AS reason
    FROM curve_points
    WHERE run_id = ?
    GROUP BY ALL
)
SELECT method, model, n_train, metric, repeats, points, mean, sd,
       CASE WHEN repeats >= 2 THEN
                greatest(0.0, mean - list_extract(?, repeats - 1) * sd / sqrt(repeats))
            WHEN repeats = 1 THEN point_low END AS low,
       CASE WHEN repeats >= 2 THEN
                least(1.0, mean + list_extract(?, repeats - 1) * sd / sqrt(repeats))
            WHEN repeats = 1 THEN point_high END AS high,
       CASE WHEN repeats >= 2 THEN 't'
            WHEN repeats = 1 AND point_low IS NOT NULL THEN 'bootstrap' END AS interval,
       coalesce(n_texts, 0) AS n_texts, train_seconds, code_seconds, reason
FROM per_group
ORDER BY model, method, n_train, metric
"""


@dataclass(frozen=True)
class PointRow:
    """One metric of one point, as curve_points stores it."""

    method: str
    model: str
    n_train: int
    repeat: int
    metric: str
    value: float | None
    low: float | None
    high: float | None
    n_texts: int
    train_seconds: float
    code_seconds: float
    reason: str | None = None
    coding_run_id: str | None = None


_COLUMNS = list(PointRow.__dataclass_fields__)


class CurveTable:
    def __init__(self, db: Database):
        self.db = db

    def finish(
        self, run_id: str, item_no: int, outcome: ItemOutcome, rows: Sequence[PointRow] = ()
    ) -> None:
        """The unit's outcome and its point's rows in one transaction: a point is stored
        whole or not at all, so a resumed curve never redoes or duplicates one."""
        with self.db.transaction() as con:
            record_outcome(con, run_id, item_no, outcome)
            marks = ", ".join("?" for _ in _COLUMNS)
            for row in rows:
                con.execute(
                    f"INSERT INTO curve_points (run_id, {', '.join(_COLUMNS)}) VALUES (?, {marks})",
                    [run_id, *(getattr(row, c) for c in _COLUMNS)],
                )

    def points(self, run_id: str) -> pd.DataFrame:
        """Every stored row of the curve, in plan order (model, n, method, repeat)."""
        return self.db.query_df(
            f"SELECT {', '.join(_COLUMNS)} FROM curve_points WHERE run_id = ? "
            "ORDER BY model, n_train, method, repeat, metric",
            [run_id],
        )

    def aggregate(self, run_id: str, t_quantiles: Sequence[float]) -> pd.DataFrame:
        """Per method, model, n and metric: the mean over repeats with its interval (see
        AGGREGATE_SQL), repeats and points, held-out texts counted, mean seconds, and the
        reason when no repeat has a value."""
        quantiles = [float(q) for q in t_quantiles]
        return self.db.query_df(AGGREGATE_SQL, [run_id, quantiles, quantiles])

    def progress(self, run_id: str) -> pd.DataFrame:
        """Per method and model (a unit's category and model): points done and pending, and
        the median seconds of the finished ones: what the time left is worked out from."""
        return self.db.query_df(
            """
            SELECT category AS method, model_name AS model,
                   count(*) FILTER (WHERE status <> 'pending') AS done,
                   count(*) FILTER (WHERE status = 'pending') AS pending,
                   median(seconds) FILTER (WHERE status = 'done') AS median_seconds
            FROM run_items WHERE run_id = ?
            GROUP BY ALL ORDER BY model, method
            """,
            [run_id],
        )

    def failures(self, run_id: str) -> pd.DataFrame:
        """Points that failed or were skipped, with why."""
        return self.db.query_df(
            """
            SELECT item_no, category AS method, model_name AS model, question_id AS point,
                   status, coalesce(error, stop_reason) AS reason
            FROM run_items
            WHERE run_id = ? AND (status = 'failed' OR stop_reason IS NOT NULL)
            ORDER BY item_no
            """,
            [run_id],
        )

    def runs(self) -> pd.DataFrame:
        """Every learning curve, newest first: its dataset, codebook, label source, methods
        and sizes (comma-joined) and held-out texts."""
        return self.db.query_df(
            """
            SELECT r.id, r.config->>'dataset' AS dataset, r.config->>'codebook' AS codebook,
                   r.config->>'source' AS source,
                   array_to_string(CAST(r.config->'methods' AS VARCHAR[]), ',') AS methods,
                   array_to_string(CAST(r.config->'sizes' AS VARCHAR[]), ',') AS sizes,
                   CAST(r.config->>'repeats' AS INTEGER) AS repeats,
                   json_array_length(r.config->'held_out_ids') AS held_out
            FROM runs r WHERE r.kind = 'curve' ORDER BY r.created_at DESC
            """
        )
