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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core.errors import StoreError, StoreLocked
from core.migrations import migrate, now, scalar

if TYPE_CHECKING:
    import pandas as pd

    from core.records import Generation, ModelInfo
    from core.refine import RefineStep

EXPORTABLE_TABLES = (
    "models",
    "runs",
    "generations",
    "suites",
    "questions",
    "run_items",
    "judgments",
    "votes",
)
_RETRY_PAUSE_S = 0.1


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def pd_isna(value: Any) -> bool:
    # pandas gives NaN (not None) for NULL strings; NaN is the only value unequal to itself.
    return value is None or (isinstance(value, float) and value != value)


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
                migrate(con)
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
        return scalar(con, "SELECT max(version) FROM schema_version")

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
                    now(),
                ],
            )

    def create_run(self, kind: str, config: dict[str, Any], status: str = "running") -> str:
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (id, kind, status, config, created_at) VALUES (?, ?, ?, ?, ?)",
                [run_id, kind, status, json.dumps(config), now()],
            )
        return run_id

    def claim_run(self, run_id: str, pid: int, alive: Callable[[int], bool]) -> None:
        """Mark the run as worked on by `pid`, unless another live process already is. One
        transaction: DuckDB's single-writer lock makes the check and the claim atomic."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            rows = con.execute("SELECT status, pid FROM runs WHERE id = ?", [run_id]).fetchall()
            if not rows:
                con.execute("ROLLBACK")
                raise StoreError(f"No run with id {run_id!r}")
            status, owner = rows[0]
            if status == "running" and owner and owner != pid and alive(owner):
                con.execute("ROLLBACK")
                raise StoreError(f"Run {run_id} is already being worked on by process {owner}.")
            con.execute(
                "UPDATE runs SET status = 'running', error = NULL, pid = ? WHERE id = ?",
                [pid, run_id],
            )
            con.execute("COMMIT")

    # --- suites -------------------------------------------------------------------------------

    def save_suite(self, name: str, source: str, questions: list, replace: bool = False) -> int:
        with self.connect() as con:
            exists = scalar(con, "SELECT count(*) FROM suites WHERE name = ?", [name])
            if exists and not replace:
                raise StoreError(f"A suite named {name!r} exists already; choose another --name.")
            used = scalar(con, "SELECT count(*) FROM runs WHERE config->>'suite' = ?", [name])
            if exists and used:
                raise StoreError(
                    f"Suite {name!r} is used by {used} run(s); import under a new --name so "
                    "their results keep the questions they were asked."
                )
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM questions WHERE suite = ?", [name])
            con.execute("DELETE FROM suites WHERE name = ?", [name])
            con.execute("INSERT INTO suites VALUES (?, ?, ?)", [name, source, now()])
            con.executemany(
                "INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    ]
                    for i, q in enumerate(questions)
                ],
            )
            con.execute("COMMIT")
        return len(questions)

    def list_suites(self) -> pd.DataFrame:
        return self.query_df(
            "SELECT s.name, s.source, s.created_at, count(q.id) AS questions, "
            "count(DISTINCT q.category) AS categories, count(q.reference) AS with_reference "
            "FROM suites s LEFT JOIN questions q ON q.suite = s.name "
            "GROUP BY ALL ORDER BY s.created_at"
        )

    def suite_questions(self, suite: str) -> list:
        from core.suites import Question

        df = self.query_df(
            "SELECT id, category, text, turns, reference, reference_kind, tolerance "
            "FROM questions WHERE suite = ? ORDER BY position",
            [suite],
        )
        return [
            Question(
                r.id,
                r.category,
                r.text,
                tuple(json.loads(r.turns)),
                None if pd_isna(r.reference) else r.reference,
                None if pd_isna(r.reference_kind) else r.reference_kind,
                None if pd_isna(r.tolerance) else float(r.tolerance),
            )
            for r in df.itertuples()
        ]

    # --- benchmark items and judgments ----------------------------------------------------------

    def done_items(self, run_id: str) -> set[str]:
        df = self.query_df("SELECT item_key FROM run_items WHERE run_id = ?", [run_id])
        return set(df.item_key)

    def discard_partial_item(self, run_id: str, item_key: str) -> None:
        """Remove what an interrupted attempt at an item left, so a redo cannot duplicate it."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "DELETE FROM generations WHERE run_id = ? AND item_key = ?", [run_id, item_key]
            )
            con.execute(
                "DELETE FROM judgments WHERE run_id = ? AND item_key = ?", [run_id, item_key]
            )
            con.execute("COMMIT")

    def finish_item(self, item: dict[str, Any], judgments: list[dict[str, Any]]) -> None:
        """The item row and its judgments in one transaction: an item is done or absent."""
        item = {**item, "created_at": now()}
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"INSERT INTO run_items ({', '.join(item)}) "
                f"VALUES ({', '.join('?' for _ in item)})",
                list(item.values()),
            )
            for j in judgments:
                row = {"id": uuid.uuid4().hex, **j, "created_at": now()}
                con.execute(
                    f"INSERT INTO judgments ({', '.join(row)}) "
                    f"VALUES ({', '.join('?' for _ in row)})",
                    list(row.values()),
                )
            con.execute("COMMIT")

    def finish_run(
        self, run_id: str, status: str, error: str | None = None, stop_reason: str | None = None
    ) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET status = ?, error = ?, stop_reason = ?, finished_at = ? "
                "WHERE id = ?",
                [status, error, stop_reason, now(), run_id],
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
        item_key: str | None = None,
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
            "model_memory_mb": gen.model_memory_mb,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "repeat_penalty": s.repeat_penalty,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "stop": json.dumps(list(s.stop)),
            "grammar": s.grammar,
            "llama_cpp_version": gen.llama_cpp_version,
            "item_key": item_key,
            "created_at": now(),
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

    def save_refine_step(
        self, run_id: str, step: RefineStep, index: int, item_key: str | None = None
    ) -> str:
        return self.save_generation(
            step.generation,
            kind=step.kind,
            run_id=run_id,
            step=index,
            round_no=step.round,
            prefix_tokens=step.prefix_tokens,
            text=step.text,
            item_key=item_key,
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

    def list_benchmark_runs(self, limit: int = 200) -> pd.DataFrame:
        """Benchmark runs, newest first, with finished and total unit counts."""
        return self.query_df(
            """
            SELECT r.id, r.created_at, r.status, r.pid, r.config->>'suite' AS suite,
                   (SELECT string_agg(m->>'name', ',')
                    FROM (SELECT unnest(from_json(r.config->'models', '["json"]')) AS m))
                       AS models,
                   r.config->'judge'->>'name' AS judge,
                   CAST(r.config->>'rounds' AS INTEGER) AS rounds,
                   (SELECT count(*) FROM run_items i WHERE i.run_id = r.id) AS items_done,
                   (SELECT avg(i.seconds) FROM run_items i WHERE i.run_id = r.id)
                       AS seconds_per_item,
                   r.error, r.config
            FROM runs r WHERE r.kind = 'benchmark'
            ORDER BY r.created_at DESC LIMIT ?
            """,
            [limit],
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
            rows = scalar(con, f"SELECT count(*) FROM {table}")
            if fmt == "parquet":
                relation.write_parquet(str(out))
            else:
                relation.write_csv(str(out))
        return rows
