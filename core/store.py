"""DuckDB results store.

Every operation opens its own short-lived connection: DuckDB allows one writing process per
file, and the dashboard and a terminal `perfics run` must both keep working side by side.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core.errors import StoreError, StoreLocked

if TYPE_CHECKING:
    import pandas as pd

    from core.records import Generation, ModelInfo
    from core.refine import RefineStep

EXPORTABLE_TABLES = ("models", "runs", "generations")
_RETRY_PAUSE_S = 0.1


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


# --- migrations: append-only; never edit a published one, add a new function instead ---------


def _m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE models (
            sha256 VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            architecture VARCHAR,
            size_label VARCHAR,
            quantization VARCHAR,
            context_length INTEGER,
            has_chat_template BOOLEAN,
            file_size BIGINT,
            first_seen TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE runs (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            config JSON,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE generations (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            step INTEGER NOT NULL DEFAULT 0,
            kind VARCHAR NOT NULL,
            model_sha256 VARCHAR NOT NULL,
            model_name VARCHAR NOT NULL,
            prompt JSON NOT NULL,
            text VARCHAR NOT NULL,
            finish_reason VARCHAR NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            prompt_tokens_evaluated INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            ttft_s DOUBLE NOT NULL,
            total_s DOUBLE NOT NULL,
            gen_tokens_per_s DOUBLE,
            peak_rss_mb DOUBLE NOT NULL,
            temperature DOUBLE NOT NULL,
            top_p DOUBLE NOT NULL,
            max_tokens INTEGER NOT NULL,
            seed BIGINT NOT NULL,
            stop JSON NOT NULL,
            grammar VARCHAR,
            llama_cpp_version VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute("CREATE INDEX generations_run ON generations(run_id)")


def _m002_refinement(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE generations ADD COLUMN round INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN prefix_tokens INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN repeat_penalty DOUBLE")
    con.execute("ALTER TABLE runs ADD COLUMN stop_reason VARCHAR")


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [_m001_initial, _m002_refinement]


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP)"
    )
    current = _scalar(con, "SELECT coalesce(max(version), 0) FROM schema_version")
    for version, migration in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [version, migration.__name__, _now()],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    # fetchall() completes the result; DuckDB 2 keeps a connection busy after fetchone().
    return con.execute(sql, params or []).fetchall()[0][0]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """A path to a DuckDB file; holds no connection between operations."""

    def __init__(self, path: str | Path, lock_timeout_s: float = 10.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._migrated = False

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._open(read_only)
        try:
            if not self._migrated and not read_only:
                _migrate(con)
                self._migrated = True
            yield con
        except duckdb.Error as exc:
            raise StoreError(f"Database error in {self.path}: {exc}") from exc
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the database folder {self.path.parent}: {exc}"
            ) from exc
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise StoreError(f"Cannot open the database {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StoreLocked(
                        f"The database {self.path} is locked by another process "
                        f"(waited {self.lock_timeout_s:g} s). Try again when it finishes. "
                        f"Details: {exc}"
                    ) from exc
                time.sleep(_RETRY_PAUSE_S)

    def init(self) -> int:
        """Create or migrate the schema; returns the schema version."""
        with self.connect() as con:
            return self.schema_version(con)

    @staticmethod
    def schema_version(con: duckdb.DuckDBPyConnection) -> int:
        return _scalar(con, "SELECT max(version) FROM schema_version")

    # --- writes -------------------------------------------------------------------------------

    def upsert_model(self, info: ModelInfo) -> None:
        if not info.usable or not info.sha256:
            return
        with self.connect() as con:
            con.execute(
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
                    _now(),
                ],
            )

    def create_run(self, kind: str, config: dict[str, Any]) -> str:
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (id, kind, status, config, created_at) VALUES (?, ?, ?, ?, ?)",
                [run_id, kind, "running", json.dumps(config), _now()],
            )
        return run_id

    def finish_run(
        self, run_id: str, status: str, error: str | None = None, stop_reason: str | None = None
    ) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET status = ?, error = ?, stop_reason = ?, finished_at = ? "
                "WHERE id = ?",
                [status, error, stop_reason, _now(), run_id],
            )

    def save_generation(
        self,
        gen: Generation,
        kind: str = "generate",
        run_id: str | None = None,
        step: int = 0,
        round_no: int | None = None,
        prefix_tokens: int | None = None,
        text: str | None = None,
    ) -> str:
        gen_id = uuid.uuid4().hex
        s = gen.settings
        row = {
            "id": gen_id,
            "run_id": run_id,
            "step": step,
            "round": round_no,
            "kind": kind,
            "model_sha256": gen.model_sha256,
            "model_name": gen.model_name,
            "prompt": json.dumps(gen.prompt),
            "text": gen.text if text is None else text,
            "finish_reason": gen.finish_reason,
            "prompt_tokens": gen.prompt_tokens,
            "prompt_tokens_evaluated": gen.prompt_tokens_evaluated,
            "prefix_tokens": prefix_tokens,
            "completion_tokens": gen.completion_tokens,
            "ttft_s": gen.ttft_s,
            "total_s": gen.total_s,
            "gen_tokens_per_s": gen.gen_tokens_per_s,
            "peak_rss_mb": gen.peak_rss_mb,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "repeat_penalty": s.repeat_penalty,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "stop": json.dumps(list(s.stop)),
            "grammar": s.grammar,
            "llama_cpp_version": gen.llama_cpp_version,
            "created_at": _now(),
        }
        with self.connect() as con:
            con.execute(
                f"INSERT INTO generations ({', '.join(row)}) "
                f"VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
        return gen_id

    # --- reads --------------------------------------------------------------------------------

    def query_df(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def save_refine_step(self, run_id: str, step: RefineStep, index: int) -> str:
        return self.save_generation(
            step.generation,
            kind=step.kind,
            run_id=run_id,
            step=index,
            round_no=step.round,
            prefix_tokens=step.prefix_tokens,
            text=step.text,
        )

    def list_runs(self, kind: str, limit: int = 200) -> pd.DataFrame:
        """Newest first, with the prompt and model pulled out of the stored configuration."""
        return self.query_df(
            """
            SELECT r.id, r.created_at, r.status, r.stop_reason, r.error,
                   r.config->>'model' AS model, r.config->>'prompt' AS prompt,
                   CAST(r.config->>'rounds' AS INTEGER) AS rounds,
                   count(g.id) AS steps
            FROM runs r LEFT JOIN generations g ON g.run_id = r.id
            WHERE r.kind = ?
            GROUP BY ALL
            ORDER BY r.created_at DESC
            LIMIT ?
            """,
            [kind, limit],
        )

    def get_run(self, run_id: str) -> dict[str, Any]:
        df = self.query_df(
            "SELECT id, kind, status, stop_reason, error, config, created_at FROM runs "
            "WHERE id = ?",
            [run_id],
        )
        if df.empty:
            raise StoreError(f"No run with id {run_id!r}")
        run = df.iloc[0].to_dict()
        run["config"] = json.loads(run["config"]) if run["config"] else {}
        return run

    def run_steps(self, run_id: str) -> pd.DataFrame:
        return self.query_df(
            "SELECT step, round, kind, model_name, text, finish_reason, prompt_tokens, "
            "prompt_tokens_evaluated, prompt_tokens - prompt_tokens_evaluated AS "
            "prompt_tokens_reused, prefix_tokens, completion_tokens, ttft_s, total_s, "
            "gen_tokens_per_s, peak_rss_mb FROM generations WHERE run_id = ? ORDER BY step",
            [run_id],
        )

    def export(self, table: str, out: str | Path, fmt: str) -> int:
        """Write a whole table to parquet or csv; returns the number of rows written."""
        if table not in EXPORTABLE_TABLES:
            raise StoreError(
                f"Unknown table {table!r}; choose one of {', '.join(EXPORTABLE_TABLES)}"
            )
        if fmt not in ("parquet", "csv"):
            raise StoreError(f"Unknown format {fmt!r}; choose parquet or csv")
        out = Path(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create {out.parent}: {exc}") from exc
        with self.connect() as con:
            relation = con.table(table)
            # The table name is checked against EXPORTABLE_TABLES above; identifiers cannot be
            # bound as parameters.
            rows = _scalar(con, f"SELECT count(*) FROM {table}")
            if fmt == "parquet":
                relation.write_parquet(str(out))
            else:
                relation.write_csv(str(out))
        return rows
