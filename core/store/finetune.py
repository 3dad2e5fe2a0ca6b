"""Fine-tuning runs' optimiser steps (the loss curve and the measured speed) and validation
losses (core/evaluation/finetune_run.py). A resumed run restarts at its last checkpoint: the
steps recorded after it are forgotten and redone."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.store.database import Database
from core.store.duck import now
from core.types.finetune import FinetuneStep, FinetuneValidation


@dataclass(frozen=True)
class StepTotals:
    """A run's recorded steps summed up: how many, their tokens and seconds."""

    steps: int
    tokens: int
    seconds: float

    @property
    def seconds_per_step(self) -> float | None:
        return self.seconds / self.steps if self.steps else None

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None


class FinetuneTable:
    def __init__(self, db: Database):
        self.db = db

    def record_step(self, run_id: str, step: FinetuneStep) -> None:
        self.db.execute(
            "INSERT INTO ft_steps (run_id, step, epoch, loss, tokens, seconds, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, step.step, step.epoch, step.loss, step.tokens, step.seconds, now()],
        )

    def record_validation(self, run_id: str, validation: FinetuneValidation) -> None:
        self.db.execute(
            "INSERT INTO ft_validation (run_id, step, loss, n_examples) VALUES (?, ?, ?, ?)",
            [run_id, validation.step, validation.loss, validation.n_examples],
        )

    def steps(self, run_id: str) -> list[FinetuneStep]:
        rows = self.db.rows(
            "SELECT step, epoch, loss, tokens, seconds FROM ft_steps WHERE run_id = ? "
            "ORDER BY step",
            [run_id],
        )
        return [FinetuneStep(*row) for row in rows]

    def validations(self, run_id: str) -> list[FinetuneValidation]:
        rows = self.db.rows(
            "SELECT step, loss, n_examples FROM ft_validation WHERE run_id = ? ORDER BY step",
            [run_id],
        )
        return [FinetuneValidation(*row) for row in rows]

    def totals(self, run_id: str) -> StepTotals:
        rows = self.db.rows(
            "SELECT count(*), coalesce(sum(tokens), 0), coalesce(sum(seconds), 0) "
            "FROM ft_steps WHERE run_id = ?",
            [run_id],
        )
        steps, tokens, seconds = rows[0]
        return StepTotals(int(steps), int(tokens), float(seconds))

    def epoch_loss(self, run_id: str, epoch: int) -> float | None:
        """The mean training loss over one epoch's recorded steps."""
        rows = self.db.rows(
            "SELECT avg(loss) FROM ft_steps WHERE run_id = ? AND epoch = ?", [run_id, epoch]
        )
        return rows[0][0]

    def forget_after(self, run_id: str, step: int) -> None:
        """Steps and validations after `step`: a resumed run redoes them from its checkpoint."""
        with self.db.transaction() as con:
            for table in ("ft_steps", "ft_validation"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ? AND step > ?", [run_id, step])

    def runs_writing(self, adapter: str) -> list[tuple[str, str]]:
        """(run id, status) of the fine-tuning runs that write or wrote this adapter name."""
        return self.db.rows(
            "SELECT id, status FROM runs WHERE kind = 'finetune' AND config->>'adapter' = ? "
            "ORDER BY created_at",
            [adapter],
        )

    def runs(self) -> pd.DataFrame:
        """Every fine-tuning run, newest first: the adapter it writes, its base model, data
        and training texts, and its measured speed (tokens per second of the steps so far)."""
        return self.db.query_df(
            """
            WITH speed AS (
                SELECT run_id, sum(tokens) / nullif(sum(seconds), 0) AS tokens_per_s
                FROM ft_steps GROUP BY run_id
            )
            SELECT r.id, r.config->>'adapter' AS adapter, r.config->>'model' AS model,
                   r.config->>'dataset' AS dataset, r.config->>'codebook' AS codebook,
                   r.config->>'source' AS labels,
                   json_array_length(r.config->'train_ids') AS train_texts,
                   json_array_length(r.config->'validation_ids') AS validation_texts,
                   s.tokens_per_s
            FROM runs r LEFT JOIN speed s ON s.run_id = r.id
            WHERE r.kind = 'finetune' ORDER BY r.created_at DESC
            """
        )
