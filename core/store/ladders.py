"""Quantization ladders' measured rungs (core/evaluation/ladder.py), one row per model."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from core.store.database import Database
from core.store.items import record_outcome
from core.types import ItemOutcome
from core.types.token_level import LadderRung

_COLUMNS = [f.name for f in fields(LadderRung)]


class LadderTable:
    def __init__(self, db: Database):
        self.db = db

    def finish(
        self, run_id: str, item_no: int, outcome: ItemOutcome, rung: LadderRung | None = None
    ) -> None:
        """The unit's outcome and, when it measured a rung, the rung: one transaction."""
        with self.db.transaction() as con:
            record_outcome(con, run_id, item_no, outcome)
            if rung is not None:
                values = asdict(rung)
                values["tensor_types"] = json.dumps([list(t) for t in rung.tensor_types])
                names = ", ".join(_COLUMNS)
                marks = ", ".join("?" for _ in _COLUMNS)
                con.execute(
                    f"INSERT INTO ladder_rungs (run_id, item_no, {names}) VALUES (?, ?, {marks})",
                    [run_id, item_no, *(values[c] for c in _COLUMNS)],
                )

    def rungs(self, run_id: str) -> list[LadderRung]:
        """The measured rungs, in the order they were planned (the source first)."""
        rows = self.db.rows(
            f"SELECT {', '.join(_COLUMNS)} FROM ladder_rungs WHERE run_id = ? ORDER BY item_no",
            [run_id],
        )
        out = []
        for row in rows:
            values = dict(zip(_COLUMNS, row, strict=True))
            values["tensor_types"] = tuple(
                (str(name), int(n)) for name, n in json.loads(values["tensor_types"])
            )
            out.append(LadderRung(**values))
        return out
