"""Blind human votes cast in the arena, one row per vote."""

from __future__ import annotations

import uuid

import pandas as pd

from core.store.database import Database
from core.store.duck import insert_sql, now
from core.types import ItemKind


class VoteTable:
    def __init__(self, db: Database):
        self.db = db

    def record(
        self, run_id: str, item_no: int, left_label: str, right_label: str, vote: str
    ) -> None:
        row = {
            "id": uuid.uuid4().hex,
            "run_id": run_id,
            "item_no": item_no,
            "left_label": left_label,
            "right_label": right_label,
            "vote": vote,
            "created_at": now(),
        }
        self.db.execute(*insert_sql("votes", row))

    def of_run(self, run_id: str, kind: ItemKind | None = None) -> pd.DataFrame:
        """Votes of a run, oldest first; only those on units of `kind` when given."""
        return self.db.query_df(
            "SELECT v.item_no, v.left_label, v.right_label, v.vote, v.created_at "
            "FROM votes v JOIN run_items i ON i.run_id = v.run_id AND i.item_no = v.item_no "
            "WHERE v.run_id = ? AND (CAST(? AS VARCHAR) IS NULL OR i.kind = ?) "
            "ORDER BY v.created_at",
            [run_id, kind, kind],
        )
