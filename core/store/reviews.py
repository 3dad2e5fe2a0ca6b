"""Reviewers' decisions on coded texts, their assignments for double coding, the review
queue, and the verified labels and acceptance counts derived from them in SQL.

Only a reviewer's latest decision on a text that has not been undone counts (`active`)."""

from __future__ import annotations

import uuid

import pandas as pd

from core.store.codings import CODED_UNITS_CTE
from core.store.database import Database
from core.store.duck import now
from core.types.classification import Review, VerifyRule

# Each reviewer's latest decision per text that is not undone, with its label set as a
# sorted list. Parameters: dataset, codebook.
ACTIVE_CTE = """
active AS (
    SELECT r.id AS review_id, r.text_id, r.reviewer, r.unclear, r.note, r.created_at,
           coalesce(list(l.label ORDER BY l.label) FILTER (WHERE l.label IS NOT NULL),
                    []) AS labels
    FROM cls_reviews r LEFT JOIN cls_review_labels l ON l.review_id = r.id
    WHERE r.dataset = ? AND r.codebook = ? AND r.undone_at IS NULL
    GROUP BY r.id, r.text_id, r.reviewer, r.unclear, r.note, r.created_at
    QUALIFY row_number() OVER (PARTITION BY r.text_id, r.reviewer
                               ORDER BY r.created_at DESC, r.id) = 1
)
"""

# The verified label set per text under each rule (core/types/classification.py VerifyRule):
# `one` takes the earliest reviewer's decision; `two_agree` needs two reviewers with the same
# set. A text reviewed as unclear is never verified by that review.
VERIFIED_CTE = (
    ACTIVE_CTE
    + """,
first_review AS (
    SELECT text_id, labels, [reviewer] AS reviewers, created_at AS verified_at, review_id
    FROM active WHERE NOT unclear
    QUALIFY row_number() OVER (PARTITION BY text_id ORDER BY created_at, review_id) = 1
),
agreed AS (
    SELECT text_id, labels, list(reviewer ORDER BY created_at) AS reviewers,
           max(created_at) AS verified_at, min(review_id) AS review_id
    FROM active WHERE NOT unclear
    GROUP BY text_id, labels HAVING count(*) >= 2
    QUALIFY row_number() OVER (PARTITION BY text_id ORDER BY max(created_at)) = 1
),
verified AS (
    SELECT * FROM first_review WHERE ? = 'one'
    UNION ALL
    SELECT * FROM agreed WHERE ? = 'two_agree'
)
"""
)


class ReviewTable:
    def __init__(self, db: Database):
        self.db = db

    def record(self, review: Review) -> str:
        """Store one decision with its labels in one transaction; returns its id."""
        review_id = uuid.uuid4().hex
        with self.db.transaction() as con:
            con.execute(
                "INSERT INTO cls_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    review_id,
                    review.dataset,
                    review.codebook,
                    review.text_id,
                    review.reviewer,
                    review.unclear,
                    review.note,
                    now(),
                ],
            )
            if review.labels:
                con.executemany(
                    "INSERT INTO cls_review_labels VALUES (?, ?, ?)",
                    [[review_id, v.code, v.intensity] for v in review.labels],
                )
        return review_id

    def undo_last(self, dataset: str, codebook: str, reviewer: str) -> str | None:
        """Mark the reviewer's latest decision undone; returns its text id (None if none)."""
        with self.db.transaction() as con:
            rows = con.execute(
                "SELECT id, text_id FROM cls_reviews WHERE dataset = ? AND codebook = ? "
                "AND reviewer = ? AND undone_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
                [dataset, codebook, reviewer],
            ).fetchall()
            if not rows:
                return None
            con.execute("UPDATE cls_reviews SET undone_at = ? WHERE id = ?", [now(), rows[0][0]])
            return rows[0][1]

    def active(self, dataset: str, codebook: str) -> pd.DataFrame:
        """Each reviewer's standing decision per text: review_id, text_id, reviewer, unclear,
        note, created_at, labels (a sorted list of codes)."""
        return self.db.query_df(
            f"WITH {ACTIVE_CTE} SELECT * FROM active ORDER BY created_at",
            [dataset, codebook],
        )

    def history(self, dataset: str, codebook: str) -> pd.DataFrame:
        """Every decision ever made, undone ones included, newest first."""
        return self.db.query_df(
            "SELECT r.id, r.text_id, r.reviewer, r.unclear, r.note, r.created_at, r.undone_at, "
            "list(l.label ORDER BY l.label) FILTER (WHERE l.label IS NOT NULL) AS labels "
            "FROM cls_reviews r LEFT JOIN cls_review_labels l ON l.review_id = r.id "
            "WHERE r.dataset = ? AND r.codebook = ? GROUP BY ALL ORDER BY r.created_at DESC",
            [dataset, codebook],
        )

    def verified(self, dataset: str, codebook: str, rule: VerifyRule) -> pd.DataFrame:
        """The verified texts under `rule`: text_id, labels, reviewers, verified_at, and the
        labels' intensities (a list of [code, intensity] from the deciding review)."""
        return self.db.query_df(
            f"""
            WITH {VERIFIED_CTE}
            SELECT v.text_id, v.labels, v.reviewers, v.verified_at,
                   coalesce(list([l.label, l.intensity] ORDER BY l.label)
                            FILTER (WHERE l.label IS NOT NULL), []) AS intensities
            FROM verified v LEFT JOIN cls_review_labels l ON l.review_id = v.review_id
            GROUP BY ALL ORDER BY v.text_id
            """,
            [dataset, codebook, str(rule), str(rule)],
        )

    def assign(self, dataset: str, codebook: str, text_ids: list[str], reviewers: list[str]) -> int:
        """Assign each text to each reviewer (blind double coding); returns new assignments."""
        rows = [[dataset, codebook, t, r, now()] for t in text_ids for r in reviewers]
        with self.db.transaction() as con:
            before = con.execute(
                "SELECT count(*) FROM cls_assignments WHERE dataset = ? AND codebook = ?",
                [dataset, codebook],
            ).fetchall()[0][0]
            con.executemany("INSERT OR IGNORE INTO cls_assignments VALUES (?, ?, ?, ?, ?)", rows)
            after = con.execute(
                "SELECT count(*) FROM cls_assignments WHERE dataset = ? AND codebook = ?",
                [dataset, codebook],
            ).fetchall()[0][0]
        return after - before

    def assignments(self, dataset: str, codebook: str) -> pd.DataFrame:
        return self.db.query_df(
            "SELECT text_id, reviewer, created_at FROM cls_assignments "
            "WHERE dataset = ? AND codebook = ? ORDER BY text_id, reviewer",
            [dataset, codebook],
        )

    def queue(
        self,
        dataset: str,
        codebook: str,
        reviewer: str,
        rule: VerifyRule,
        run_ids: list[str] | None,
        order: str = "disagreement",
        label: str | None = None,
        model: str | None = None,
        limit: int = 50,
    ) -> pd.DataFrame:
        """Texts waiting for `reviewer`: coded by the chosen runs, not yet decided by this
        reviewer, and either assigned to them or (unassigned) short of the reviews the rule
        needs. Assigned texts come first; then `order`: "disagreement" (most distinct labels
        proposed, then lowest confidence) or "confidence" (lowest confidence first). Filters:
        texts where some coder proposed `label`; texts `model` coded. Columns: text_id, text,
        distinct_labels, min_confidence, coders, assigned."""
        if order not in ("disagreement", "confidence"):
            raise ValueError(f"unknown queue order {order!r}")
        needed = 2 if rule == VerifyRule.TWO_AGREE else 1
        sort = (
            "distinct_labels DESC, min_confidence ASC NULLS LAST"
            if order == "disagreement"
            else "min_confidence ASC NULLS LAST, distinct_labels DESC"
        )
        return self.db.query_df(
            f"""
            WITH {CODED_UNITS_CTE}, {ACTIVE_CTE},
            proposed AS (
                SELECT c.text_id, count(DISTINCT p.label) AS distinct_labels,
                       min(p.confidence) AS min_confidence,
                       count(DISTINCT c.run_id || '/' || c.model) AS coders,
                       bool_or(p.label = ?) AS has_label,
                       bool_or(c.model = ?) AS has_model
                FROM coded c
                LEFT JOIN cls_proposals p ON p.run_id = c.run_id AND p.item_no = c.item_no
                WHERE c.status = 'done'
                GROUP BY c.text_id
            ),
            reviewed AS (
                SELECT text_id, count(*) AS reviews, bool_or(reviewer = ?) AS by_me
                FROM active GROUP BY text_id
            ),
            assigned AS (
                SELECT text_id, bool_or(reviewer = ?) AS to_me
                FROM cls_assignments WHERE dataset = ? AND codebook = ? GROUP BY text_id
            )
            SELECT p.text_id, t.text, p.distinct_labels, p.min_confidence, p.coders,
                   coalesce(a.to_me, false) AS assigned
            FROM proposed p
            JOIN cls_texts t ON t.dataset = ? AND t.text_id = p.text_id
            LEFT JOIN reviewed r ON r.text_id = p.text_id
            LEFT JOIN assigned a ON a.text_id = p.text_id
            WHERE NOT coalesce(r.by_me, false)
              AND (coalesce(a.to_me, false)
                   OR (a.text_id IS NULL AND coalesce(r.reviews, 0) < ?))
              AND (CAST(? AS VARCHAR) IS NULL OR coalesce(p.has_label, false))
              AND (CAST(? AS VARCHAR) IS NULL OR p.has_model)
            ORDER BY assigned DESC, {sort}, t.position
            LIMIT ?
            """,
            [
                dataset,
                codebook,
                run_ids,
                run_ids,
                dataset,
                codebook,
                label,
                model,
                reviewer,
                reviewer,
                dataset,
                codebook,
                dataset,
                needed,
                label,
                model,
                limit,
            ],
        )

    def acceptance(
        self, dataset: str, codebook: str, run_ids: list[str] | None = None
    ) -> pd.DataFrame:
        """The paper's key table: per coder, how many of its proposed labels reviewers judged
        (one count per proposal and active, clear review of its text) and how many they
        accepted (the reviewer kept the label)."""
        return self.db.query_df(
            f"""
            WITH {CODED_UNITS_CTE}, {ACTIVE_CTE}
            SELECT c.run_id, c.model, c.shots, count(*) AS judged,
                   count(*) FILTER (WHERE list_contains(a.labels, p.label)) AS accepted,
                   count(DISTINCT c.text_id) AS texts
            FROM coded c
            JOIN cls_proposals p ON p.run_id = c.run_id AND p.item_no = c.item_no
            JOIN active a ON a.text_id = c.text_id AND NOT a.unclear
            WHERE c.status = 'done'
            GROUP BY ALL ORDER BY c.run_id, c.model
            """,
            [dataset, codebook, run_ids, run_ids, dataset, codebook],
        )
