"""The models table: every model file that produced something, keyed by its SHA-256."""

from __future__ import annotations

from core.store.database import Database
from core.store.duck import now
from core.types import ModelInfo


class ModelTable:
    def __init__(self, db: Database):
        self.db = db

    def upsert(self, info: ModelInfo) -> None:
        if not info.usable or not info.sha256:
            return
        self.db.execute(
            """
            INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (sha256) DO UPDATE SET name = excluded.name, path = excluded.path
            """,
            [
                info.sha256,
                info.name,
                str(info.path),
                info.architecture,
                info.size_label,
                info.quantization,
                info.context_length,
                info.has_chat_template,
                info.file_size,
                now(),
            ],
        )
