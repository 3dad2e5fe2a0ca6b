"""Run units (run_items) and the judgments made on them."""

from __future__ import annotations

import uuid
from dataclasses import asdict

import pandas as pd

from core.store.database import Database
from core.store.duck import insert_sql, now, optional
from core.types import ItemKey, ItemKind, ItemOutcome, Judgment, ModelRef, RunUnit

# Judge scores and both pair verdicts per unit, from judgments that parsed. The one place that
# says which judgment is a unit's baseline score, refined score or verdict; every query that
# needs scores joins it. Parameters: a run id or NULL for all runs, twice.
ITEM_SCORES_CTE = """
item_scores AS (
    SELECT run_id, item_no,
           max(score) FILTER (WHERE kind = 'single' AND subject = 'baseline'
                              AND status = 'ok') AS baseline_score,
           max(score) FILTER (WHERE kind = 'single' AND subject = 'refined'
                              AND status = 'ok') AS refined_score,
           max(expected_score) FILTER (WHERE kind = 'single' AND subject = 'baseline'
                                       AND status = 'ok') AS baseline_expected,
           max(expected_score) FILTER (WHERE kind = 'single' AND subject = 'refined'
                                       AND status = 'ok') AS refined_expected,
           -- P(the pair's first / second answer wins; tie), averaged over both orders: in
           -- order AB the first answer is A, in order BA it is B.
           -- Only when both orders were scored: one order alone keeps its position bias.
           CASE WHEN count(p_a) FILTER (WHERE kind = 'pair' AND status = 'ok') = 2 THEN
               avg(CASE order_ab WHEN 'AB' THEN p_a ELSE p_b END)
                   FILTER (WHERE kind = 'pair' AND status = 'ok') END AS p_first,
           CASE WHEN count(p_a) FILTER (WHERE kind = 'pair' AND status = 'ok') = 2 THEN
               avg(CASE order_ab WHEN 'AB' THEN p_b ELSE p_a END)
                   FILTER (WHERE kind = 'pair' AND status = 'ok') END AS p_second,
           CASE WHEN count(p_a) FILTER (WHERE kind = 'pair' AND status = 'ok') = 2 THEN
               avg(p_tie) FILTER (WHERE kind = 'pair' AND status = 'ok') END AS p_tie,
           max(verdict) FILTER (WHERE kind = 'pair' AND order_ab = 'AB'
                                AND status = 'ok') AS verdict_ab,
           max(verdict) FILTER (WHERE kind = 'pair' AND order_ab = 'BA'
                                AND status = 'ok') AS verdict_ba,
           count(*) FILTER (WHERE kind = 'pair') AS pair_judgments
    FROM judgments
    WHERE CAST(? AS VARCHAR) IS NULL OR run_id = ?
    GROUP BY run_id, item_no
)
"""

UNIT_SCORES_SQL = f"""
WITH {ITEM_SCORES_CTE}
SELECT i.item_no, i.kind, i.model_name, i.other_model_name, i.category, i.question_id,
       i.status, i.error, i.rounds_done, i.stop_reason, i.seconds, i.baseline, i.final,
       i.baseline_correct, i.final_correct,
       s.baseline_score, s.refined_score, s.baseline_expected, s.refined_expected,
       s.p_first, s.p_second, s.p_tie, s.verdict_ab, s.verdict_ba,
       coalesce(s.pair_judgments, 0) AS pair_judgments
FROM run_items i
LEFT JOIN item_scores s ON s.run_id = i.run_id AND s.item_no = i.item_no
WHERE i.run_id = ? AND i.kind = ? AND i.status <> 'pending'
ORDER BY i.model_name, i.other_model_name, i.question_id
"""


def record_outcome(con, run_id: str, item_no: int, outcome: ItemOutcome) -> None:
    """Write how a unit ended into its run_items row, inside the caller's transaction."""
    fields = asdict(outcome)
    assignments = ", ".join(f"{column} = ?" for column in fields)
    con.execute(
        f"UPDATE run_items SET {assignments}, finished_at = ? WHERE run_id = ? AND item_no = ?",
        [*fields.values(), now(), run_id, item_no],
    )


class ItemTable:
    def __init__(self, db: Database):
        self.db = db

    def pending(self, run_id: str) -> list[RunUnit]:
        """Units not finished yet, in execution order."""
        rows = self.db.rows(
            "SELECT item_no, kind, question_id, model_name, other_model_name, category "
            "FROM run_items WHERE run_id = ? AND status = 'pending' ORDER BY item_no",
            [run_id],
        )
        return [
            RunUnit(no, ItemKey(ItemKind(kind), qid, model, optional(other)), category)
            for no, kind, qid, model, other, category in rows
        ]

    def discard_partial(self, run_id: str, item_no: int) -> None:
        """Remove what an interrupted attempt at a unit left, so a redo cannot duplicate it."""
        with self.db.transaction() as con:
            for table in (
                "generations",
                "judgments",
                "likelihood_scores",
                "ladder_rungs",
                "cls_proposals",
                "cls_codings",
            ):
                con.execute(
                    f"DELETE FROM {table} WHERE run_id = ? AND item_no = ?", [run_id, item_no]
                )

    def finish(
        self,
        run_id: str,
        item_no: int,
        outcome: ItemOutcome,
        judge: ModelRef | None = None,
        judgments: list[Judgment] = (),
    ) -> None:
        """The unit's outcome and its judgments in one transaction: a unit is done or pending."""
        with self.db.transaction() as con:
            record_outcome(con, run_id, item_no, outcome)
            for j in judgments:
                row = {
                    "id": uuid.uuid4().hex,
                    "run_id": run_id,
                    "item_no": item_no,
                    "judge_name": judge.name if judge else "",
                    "judge_sha256": (judge.sha256 if judge else None) or "",
                    **asdict(j),
                    "created_at": now(),
                }
                con.execute(*insert_sql("judgments", row))

    def answer_finals(self, run_id: str, question_id: str, models: list[str]) -> dict[str, str]:
        """Final answers of the given models to one question, for the units that finished."""
        rows = self.db.rows(
            "SELECT model_name, final FROM run_items WHERE run_id = ? AND kind = 'answer' "
            "AND question_id = ? AND status = 'done' AND list_contains(?, model_name)",
            [run_id, question_id, models],
        )
        return dict(rows)

    def scores(self, run_id: str, kind: ItemKind) -> pd.DataFrame:
        """Finished units of one kind with their judge scores and both pair verdicts."""
        return self.db.query_df(UNIT_SCORES_SQL, [run_id, run_id, run_id, kind])

    def unit_speeds(self) -> pd.DataFrame:
        """Mean seconds per finished unit of every benchmark run so far, with n: answers by
        model, refinement rounds and judge; pairs by judge (model is NULL for them)."""
        return self.db.query_df(
            """
            SELECT i.kind,
                   CASE WHEN i.kind = 'answer' THEN i.model_name END AS model,
                   CASE WHEN i.kind = 'answer'
                        THEN CAST(r.config->>'rounds' AS INTEGER) END AS rounds,
                   r.config->'judge'->>'name' AS judge,
                   avg(i.seconds) AS seconds,
                   count(*) AS n
            FROM run_items i JOIN runs r ON r.id = i.run_id
            WHERE r.kind = 'benchmark' AND i.status = 'done' AND i.seconds IS NOT NULL
            GROUP BY ALL
            """
        )
