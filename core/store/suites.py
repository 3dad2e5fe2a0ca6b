"""Question suites and their questions."""

from __future__ import annotations

import json

import pandas as pd

from core.errors import StoreError
from core.store.database import Database
from core.store.duck import now, optional, scalar
from core.types import Question


class SuiteTable:
    def __init__(self, db: Database):
        self.db = db

    def save(self, name: str, source: str, questions: list[Question], replace: bool = False) -> int:
        with self.db.transaction() as con:
            exists = scalar(con, "SELECT count(*) FROM suites WHERE name = ?", [name])
            if exists and not replace:
                raise StoreError(f"A suite named {name!r} exists already; choose another --name.")
            used = scalar(con, "SELECT count(*) FROM runs WHERE config->>'suite' = ?", [name])
            if exists and used:
                raise StoreError(
                    f"Suite {name!r} is used by {used} run(s); import under a new --name so "
                    "their results keep the questions they were asked."
                )
            con.execute("DELETE FROM questions WHERE suite = ?", [name])
            con.execute("DELETE FROM suites WHERE name = ?", [name])
            con.execute("INSERT INTO suites VALUES (?, ?, ?)", [name, source, now()])
            con.executemany(
                "INSERT INTO questions (suite, id, position, category, text, turns, reference, "
                "reference_kind, tolerance, choices) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        name,
                        q.id,
                        i,
                        q.category,
                        q.text,
                        json.dumps(list(q.turns)),
                        q.reference,
                        q.reference_kind,
                        q.tolerance,
                        json.dumps(list(q.choices)) if q.choices else None,
                    ]
                    for i, q in enumerate(questions)
                ],
            )
        return len(questions)

    def names(self) -> list[str]:
        return [r[0] for r in self.db.rows("SELECT name FROM suites ORDER BY created_at")]

    def overview(self) -> pd.DataFrame:
        return self.db.query_df(
            "SELECT s.name, s.source, s.created_at, count(q.id) AS questions, "
            "count(DISTINCT q.category) AS categories, count(q.reference) AS with_reference, "
            "count(q.choices) AS multiple_choice "
            "FROM suites s LEFT JOIN questions q ON q.suite = s.name "
            "GROUP BY ALL ORDER BY s.created_at"
        )

    def questions(self, suite: str) -> list[Question]:
        rows = self.db.rows(
            "SELECT id, category, text, turns, reference, reference_kind, tolerance, choices "
            "FROM questions WHERE suite = ? ORDER BY position",
            [suite],
        )
        return [
            Question(
                qid,
                category,
                text,
                tuple(json.loads(turns)),
                optional(reference),
                optional(kind),
                None if optional(tolerance) is None else float(tolerance),
                tuple(json.loads(choices)) if optional(choices) else (),
            )
            for qid, category, text, turns, reference, kind, tolerance, choices in rows
        ]
