"""Preferences the user sets once (the hardware profile, the currency), kept as JSON by name."""

from __future__ import annotations

import json
from typing import Any

from core.store.database import Database
from core.store.duck import now


class PreferenceTable:
    def __init__(self, db: Database):
        self.db = db

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self.db.rows("SELECT value FROM preferences WHERE name = ?", [name])
        return json.loads(rows[0][0]) if rows else None

    def put(self, name: str, value: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO preferences VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
            "SET value = excluded.value, updated_at = excluded.updated_at",
            [name, json.dumps(value), now()],
        )
