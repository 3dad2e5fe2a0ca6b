"""The runs table: one row per refinement or benchmark, its units, owner process and status."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd

from core.errors import StoreError
from core.store.database import Database
from core.store.duck import now, optional
from core.types import Owner, RunKind, RunRecord, RunStatus, RunUnit
from core.types.runs import CONFIG_TYPES

# Whether a process that claimed a run is still working on it: (owner, last heartbeat).
OwnerAlive = Callable[[Owner, datetime | None], bool]

RUN_COLUMNS = (
    "id, kind, status, config, created_at, error, stop_reason, finished_at, pid, heartbeat_at, "
    "total_units, owner_started_at"
)
# Units finished (done or failed), counted in the same query as the run row.
DONE_UNITS = "(SELECT count(*) FROM run_items i WHERE i.run_id = r.id AND i.status <> 'pending')"


def _record(row: tuple) -> RunRecord:
    (rid, kind, status, config, created, error, stop, finished, pid, beat, total, started, done) = (
        row
    )
    kind = RunKind(kind)
    try:
        parsed = CONFIG_TYPES[kind].from_json(json.loads(config))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(
            f"Run {rid} has a configuration this version cannot read ({type(exc).__name__}: "
            f"{exc}); delete it with `perfics run --delete {rid}`."
        ) from exc
    return RunRecord(
        id=rid,
        kind=kind,
        status=RunStatus(status),
        config=parsed,
        created_at=created,
        error=optional(error),
        stop_reason=optional(stop),
        finished_at=optional(finished),
        pid=optional(pid),
        heartbeat_at=optional(beat),
        total_units=optional(total),
        done_units=int(done or 0),
        owner_started=optional(started),
    )


class RunTable:
    def __init__(self, db: Database):
        self.db = db

    def create(
        self,
        kind: RunKind,
        config: dict,
        units: Sequence[RunUnit] = (),
        status: RunStatus = RunStatus.QUEUED,
        total_units: int | None = None,
    ) -> str:
        """A new run and all its units (pending), in one transaction."""
        run_id = uuid.uuid4().hex
        with self.db.transaction() as con:
            con.execute(
                "INSERT INTO runs (id, kind, status, config, created_at, total_units) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, kind, status, json.dumps(config), now(), total_units or len(units)],
            )
            if units:
                con.executemany(
                    "INSERT INTO run_items (run_id, item_no, kind, question_id, model_name, "
                    "other_model_name, category, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [
                        [
                            run_id,
                            u.no,
                            u.key.kind,
                            u.key.question_id,
                            u.key.model,
                            u.key.other_model,
                            u.category,
                        ]
                        for u in units
                    ],
                )
        return run_id

    def exists(self, run_id: str) -> bool:
        return bool(self.db.rows("SELECT 1 FROM runs WHERE id = ?", [run_id]))

    def get(self, run_id: str) -> RunRecord:
        rows = self.db.rows(
            f"SELECT {RUN_COLUMNS}, {DONE_UNITS} FROM runs r WHERE id = ?", [run_id]
        )
        if not rows:
            raise StoreError(f"No run with id {run_id!r}")
        return _record(rows[0])

    def claim(self, run_id: str, owner: Owner, owner_alive: OwnerAlive) -> bool:
        """Mark the run as worked on by `owner`, unless another live process already is (whatever
        the status says) or it is completed; returns whether a stop has been asked for. One
        transaction: DuckDB's single-writer lock makes the check and the claim atomic."""
        with self.db.transaction() as con:
            rows = con.execute(
                "SELECT status, pid, owner_started_at, heartbeat_at, stop_requested FROM runs "
                "WHERE id = ?",
                [run_id],
            ).fetchall()
            if not rows:
                raise StoreError(f"No run with id {run_id!r}")
            status, pid, started, beat, stop = rows[0]
            if status == RunStatus.COMPLETED:
                raise StoreError(f"Run {run_id} is already completed.")
            recorded = Owner(pid, started) if pid else None
            if recorded and recorded != owner and owner_alive(recorded, beat):
                raise StoreError(f"Run {run_id} is already being worked on by process {pid}.")
            con.execute(
                "UPDATE runs SET status = 'running', error = NULL, pid = ?, owner_started_at = ?, "
                "heartbeat_at = ?, finished_at = NULL WHERE id = ?",
                [owner.pid, owner.started, now(), run_id],
            )
        return bool(stop)

    def assign_worker(self, run_id: str, owner: Owner) -> None:
        """Record the worker started for a queued run, so that one which dies before claiming
        it is noticed too."""
        self.db.execute(
            "UPDATE runs SET pid = ?, owner_started_at = ? WHERE id = ? AND status = 'queued'",
            [owner.pid, owner.started, run_id],
        )

    def heartbeat(self, run_id: str, owner: Owner) -> tuple[bool, bool]:
        """Record that `owner` is still working on the run. Returns (still the owner, stop
        asked); a process that lost the run (marked abandoned, deleted) learns it here."""
        with self.db.connect() as con:
            rows = con.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running' AND pid = ? "
                "AND owner_started_at IS NOT DISTINCT FROM ? RETURNING stop_requested",
                [now(), run_id, owner.pid, owner.started],
            ).fetchall()
        return (True, bool(rows[0][0])) if rows else (False, True)

    def running_of(self, owner: Owner) -> list[str]:
        """The runs `owner` is working on, oldest first."""
        rows = self.db.rows(
            "SELECT id FROM runs WHERE status = 'running' AND pid = ? "
            "AND owner_started_at IS NOT DISTINCT FROM ? ORDER BY created_at",
            [owner.pid, owner.started],
        )
        return [row[0] for row in rows]

    def request_stop(self, run_id: str) -> None:
        """Ask whoever works on the run to stop; honoured at its next step."""
        self.db.execute("UPDATE runs SET stop_requested = true WHERE id = ?", [run_id])

    def stop_requested(self, run_id: str) -> bool:
        return bool(
            self.db.scalar("SELECT stop_requested FROM runs WHERE id = ?", [run_id]) or False
        )

    def requeue(self, run_id: str) -> None:
        """An unfinished run waits for a worker again, with any earlier stop request withdrawn."""
        self.db.execute(
            "UPDATE runs SET status = 'queued', stop_requested = false, finished_at = NULL, "
            "pid = NULL, owner_started_at = NULL "
            "WHERE id = ? AND status IN ('queued', 'failed', 'interrupted', 'stopped')",
            [run_id],
        )

    def end_if_owned(
        self,
        run_id: str,
        owner: Owner | None,
        status: RunStatus,
        error: str | None = None,
        stop_reason: str | None = None,
        from_status: tuple[RunStatus, ...] = (RunStatus.RUNNING,),
    ) -> bool:
        """End the run, only if it is still in one of `from_status` and held by `owner`: a
        process that lost the run never overwrites the one that took it over."""
        with self.db.connect() as con:
            rows = con.execute(
                "UPDATE runs SET status = ?, error = ?, stop_reason = ?, finished_at = ? "
                "WHERE id = ? AND list_contains(?, status) AND pid IS NOT DISTINCT FROM ? "
                "AND owner_started_at IS NOT DISTINCT FROM ? RETURNING id",
                [
                    status,
                    error,
                    stop_reason,
                    now(),
                    run_id,
                    [str(s) for s in from_status],
                    owner.pid if owner else None,
                    owner.started if owner else None,
                ],
            ).fetchall()
        return bool(rows)

    def delete(self, run_id: str) -> None:
        """The run and everything recorded under it, in one transaction; never a running one."""
        with self.db.transaction() as con:
            rows = con.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchall()
            if rows and rows[0][0] == RunStatus.RUNNING:
                raise StoreError(f"Run {run_id} is running; stop it before deleting it.")
            for table in (
                "votes",
                "judgments",
                "generations",
                "likelihood_scores",
                "ladder_rungs",
                "cls_proposals",
                "cls_codings",
                "ft_steps",
                "ft_validation",
                "curve_points",
                "load_test_requests",
                "load_test_levels",
                "run_items",
            ):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.execute("DELETE FROM runs WHERE id = ?", [run_id])

    def refine_history(self, limit: int = 200) -> pd.DataFrame:
        """Refinement runs, newest first, with the prompt and model from their configuration."""
        return self.db.query_df(
            """
            SELECT r.id, r.created_at, r.status, r.stop_reason, r.error, r.pid,
                   r.owner_started_at, r.heartbeat_at, r.config->>'model' AS model,
                   r.config->>'prompt' AS prompt,
                   CAST(r.config->>'rounds' AS INTEGER) AS rounds,
                   count(g.id) AS steps
            FROM runs r LEFT JOIN generations g ON g.run_id = r.id
            WHERE r.kind = 'refine'
            GROUP BY ALL
            ORDER BY r.created_at DESC
            LIMIT ?
            """,
            [limit],
        )

    def benchmark_overview(
        self, limit: int = 200, kinds: Sequence[str] = ("benchmark", "likelihood")
    ) -> pd.DataFrame:
        """Benchmark and likelihood runs (the runs a worker works on), newest first, with
        finished and total units: one query, so a page can poll it every few seconds."""
        return self.db.query_df(
            """
            WITH progress AS (
                SELECT run_id, count(*) FILTER (WHERE status <> 'pending') AS items_done,
                       avg(seconds) AS seconds_per_item
                FROM run_items GROUP BY run_id
                UNION ALL  -- a fine-tuning run's units are its optimiser steps
                SELECT run_id, count(*), avg(seconds) FROM ft_steps GROUP BY run_id
            )
            SELECT r.id, r.kind, r.created_at, r.status, r.pid, r.owner_started_at,
                   r.heartbeat_at, r.config->>'suite' AS suite,
                   r.config->>'source' AS source,
                   (SELECT string_agg(m->>'name', ',')
                    FROM (SELECT unnest(from_json(r.config->'models', '["json"]')) AS m))
                       AS models,
                   r.config->'judge'->>'name' AS judge,
                   -- endpoints on another machine that served its models or judge
                   (SELECT string_agg(DISTINCT m->>'endpoint', ', ' ORDER BY m->>'endpoint')
                    FROM (SELECT unnest(from_json(r.config->'models', '["json"]')) AS m
                          UNION ALL SELECT r.config->'judge')
                    WHERE m->>'leaves_machine' = 'true') AS data_left_via,
                   CAST(r.config->>'rounds' AS INTEGER) AS rounds,
                   coalesce(p.items_done, 0) AS items_done,
                   r.total_units AS total,
                   p.seconds_per_item,
                   r.error
            FROM runs r LEFT JOIN progress p ON p.run_id = r.id
            WHERE list_contains(?, r.kind)
            ORDER BY r.created_at DESC LIMIT ?
            """,
            [list(kinds), limit],
        )
