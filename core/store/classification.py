"""Classification datasets (texts and their gold labels) and codebooks (labels)."""

from __future__ import annotations

import json

import pandas as pd

from core.errors import StoreError
from core.store.database import Database
from core.store.duck import now, optional, scalar
from core.types.classification import (
    Codebook,
    CodebookLabel,
    DatasetInfo,
    LabelValue,
    TextRecord,
)

_USED_BY_RUNS = "SELECT count(*) FROM runs WHERE kind = 'coding' AND config->>'{key}' = ?"


def _used(con, key: str, name: str) -> int:
    # `key` is one of our two config keys, never user input.
    return scalar(con, _USED_BY_RUNS.format(key=key), [name])


class DatasetTable:
    def __init__(self, db: Database):
        self.db = db

    def save(self, name: str, source: str, texts: list[TextRecord], replace: bool = False) -> int:
        """Store the texts and their gold labels in one transaction; returns how many."""
        with self.db.transaction() as con:
            exists = scalar(con, "SELECT count(*) FROM cls_datasets WHERE name = ?", [name])
            if exists and not replace:
                raise StoreError(f"A dataset named {name!r} exists already; choose another name.")
            if exists and _used(con, "dataset", name):
                raise StoreError(
                    f"Dataset {name!r} has coding runs; import under a new name so their "
                    "labels keep the texts they were given."
                )
            for table in ("cls_gold", "cls_texts"):
                con.execute(f"DELETE FROM {table} WHERE dataset = ?", [name])
            con.execute("DELETE FROM cls_datasets WHERE name = ?", [name])
            con.execute("INSERT INTO cls_datasets VALUES (?, ?, ?)", [name, source, now()])
            con.executemany(
                "INSERT INTO cls_texts VALUES (?, ?, ?, ?)",
                [[name, t.id, i, t.text] for i, t in enumerate(texts)],
            )
            gold = [[name, t.id, g.code, g.intensity] for t in texts for g in t.gold]
            if gold:
                con.executemany("INSERT INTO cls_gold VALUES (?, ?, ?, ?)", gold)
        return len(texts)

    def delete(self, name: str) -> None:
        with self.db.transaction() as con:
            if _used(con, "dataset", name):
                raise StoreError(f"Dataset {name!r} has coding runs; delete them first.")
            for table in ("cls_gold", "cls_texts", "cls_assignments"):
                con.execute(f"DELETE FROM {table} WHERE dataset = ?", [name])
            con.execute("DELETE FROM cls_datasets WHERE name = ?", [name])

    def names(self) -> list[str]:
        return [r[0] for r in self.db.rows("SELECT name FROM cls_datasets ORDER BY created_at")]

    def overview(self) -> pd.DataFrame:
        """Each dataset with its number of texts, texts with gold labels, and whether any
        text has several gold labels."""
        return self.db.query_df(
            """
            WITH gold AS (SELECT dataset, text_id, count(*) AS n FROM cls_gold GROUP BY ALL)
            SELECT d.name, d.source, d.created_at,
                   (SELECT count(*) FROM cls_texts t WHERE t.dataset = d.name) AS texts,
                   count(g.text_id) AS gold_texts,
                   coalesce(max(g.n), 0) > 1 AS multi_label
            FROM cls_datasets d LEFT JOIN gold g ON g.dataset = d.name
            GROUP BY ALL ORDER BY d.created_at
            """
        )

    def info(self, name: str) -> DatasetInfo:
        table = self.overview()
        row = table[table.name == name]
        if row.empty:
            raise StoreError(f"No dataset named {name!r}.")
        r = row.iloc[0]
        return DatasetInfo(
            name, r.source, int(r.texts), int(r.gold_texts), bool(r.multi_label), r.created_at
        )

    def texts(self, name: str, ids: list[str] | None = None) -> list[TextRecord]:
        """The dataset's texts in import order (only `ids`, when given), with gold labels."""
        rows = self.db.rows(
            """
            SELECT t.text_id, t.text,
                   coalesce(list([g.label, g.intensity] ORDER BY g.label)
                            FILTER (WHERE g.label IS NOT NULL), []) AS gold
            FROM cls_texts t
            LEFT JOIN cls_gold g ON g.dataset = t.dataset AND g.text_id = t.text_id
            WHERE t.dataset = ? AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(?, t.text_id))
            GROUP BY t.text_id, t.text, t.position ORDER BY t.position
            """,
            [name, ids, ids],
        )
        return [
            TextRecord(tid, text, tuple(LabelValue(c, optional(i)) for c, i in gold))
            for tid, text, gold in rows
        ]

    def text_ids(self, name: str) -> list[str]:
        return [
            r[0]
            for r in self.db.rows(
                "SELECT text_id FROM cls_texts WHERE dataset = ? ORDER BY position", [name]
            )
        ]

    def gold(self, name: str) -> pd.DataFrame:
        """One row per gold label: text_id, label, intensity."""
        return self.db.query_df(
            "SELECT text_id, label, intensity FROM cls_gold WHERE dataset = ? "
            "ORDER BY text_id, label",
            [name],
        )


class CodebookTable:
    def __init__(self, db: Database):
        self.db = db

    def save(self, codebook: Codebook, source: str, replace: bool = False) -> int:
        name = codebook.name
        with self.db.transaction() as con:
            exists = scalar(con, "SELECT count(*) FROM cls_codebooks WHERE name = ?", [name])
            if exists and not replace:
                raise StoreError(f"A codebook named {name!r} exists already; choose another name.")
            if exists and _used(con, "codebook", name):
                raise StoreError(
                    f"Codebook {name!r} has coding runs; save it under a new name so their "
                    "labels keep their meaning."
                )
            con.execute("DELETE FROM cls_labels WHERE codebook = ?", [name])
            con.execute("DELETE FROM cls_codebooks WHERE name = ?", [name])
            con.execute(
                "INSERT INTO cls_codebooks VALUES (?, ?, ?, ?)",
                [name, source, codebook.instructions, now()],
            )
            con.executemany(
                "INSERT INTO cls_labels VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        name,
                        label.code,
                        i,
                        label.name,
                        label.description,
                        json.dumps(list(label.examples)),
                        label.parent,
                    ]
                    for i, label in enumerate(codebook.labels)
                ],
            )
        return len(codebook.labels)

    def delete(self, name: str) -> None:
        with self.db.transaction() as con:
            if _used(con, "codebook", name):
                raise StoreError(f"Codebook {name!r} has coding runs; delete them first.")
            con.execute("DELETE FROM cls_labels WHERE codebook = ?", [name])
            con.execute("DELETE FROM cls_codebooks WHERE name = ?", [name])

    def names(self) -> list[str]:
        return [r[0] for r in self.db.rows("SELECT name FROM cls_codebooks ORDER BY created_at")]

    def overview(self) -> pd.DataFrame:
        return self.db.query_df(
            "SELECT c.name, c.source, c.created_at, count(l.code) AS labels, "
            "count(l.parent) AS with_parent FROM cls_codebooks c "
            "LEFT JOIN cls_labels l ON l.codebook = c.name GROUP BY ALL ORDER BY c.created_at"
        )

    def get(self, name: str) -> Codebook:
        head = self.db.rows("SELECT instructions FROM cls_codebooks WHERE name = ?", [name])
        if not head:
            raise StoreError(f"No codebook named {name!r}.")
        rows = self.db.rows(
            "SELECT code, name, description, examples, parent FROM cls_labels "
            "WHERE codebook = ? ORDER BY position",
            [name],
        )
        labels = tuple(
            CodebookLabel(code, label, description, tuple(json.loads(examples)), optional(parent))
            for code, label, description, examples, parent in rows
        )
        return Codebook(name, labels, head[0][0])
