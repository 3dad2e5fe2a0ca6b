"""The DuckDB store: schema from migrations, round trips, export, and bad or locked files."""

import threading

import duckdb
import pytest

from core.engine.fake import FakeBackend
from core.errors import StoreError, StoreLocked
from core.store import EXPORTABLE_TABLES, Store
from core.store.migrations import MIGRATIONS
from core.types import SamplerSettings
from tests.support import hold_lock


def _gen():
    return FakeBackend(["a stored answer"]).complete("a question", SamplerSettings(seed=7))


def test_migrating_an_empty_database_builds_the_whole_schema(tmp_path):
    store = Store(tmp_path / "fresh.duckdb")
    assert store.init() == len(MIGRATIONS)
    with store.db.connect() as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        columns = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                ["generations"],
            ).fetchall()
        }
        applied = con.execute(
            "SELECT version, name FROM schema_version ORDER BY version"
        ).fetchall()
    assert {"schema_version", *EXPORTABLE_TABLES} <= tables
    assert {
        "prompt_tokens_evaluated",
        "ttft_s",
        "peak_rss_mb",
        "seed",
        "model_sha256",
        "llama_cpp_version",
    } <= columns
    assert applied == [(i + 1, m.__name__) for i, m in enumerate(MIGRATIONS)]


def test_migrations_run_once(tmp_path):
    path = tmp_path / "again.duckdb"
    Store(path).init()
    assert Store(path).init() == len(MIGRATIONS)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM schema_version").fetchall()[0][0] == len(
            MIGRATIONS
        )


def test_generation_round_trip_and_export(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    gen = _gen()
    gen_id = store.generations.save(gen, kind="generate")
    df = store.db.query_df("SELECT * FROM generations WHERE id = ?", [gen_id])
    assert len(df) == 1
    row = df.iloc[0]
    assert row.text == "a stored answer" and row.seed == 7 and row.model_sha256 == gen.model_sha256
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"export.{fmt}"
        assert store.export("generations", out, fmt) == 1
        reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
        with duckdb.connect() as con:
            back = con.execute(f"SELECT text FROM {reader}(?)", [str(out)]).fetchall()
        assert back == [("a stored answer",)]


def test_export_rejects_unknown_table_and_format(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    with pytest.raises(StoreError, match="Unknown table"):
        store.export("schema_version; DROP TABLE runs", tmp_path / "x.csv", "csv")
    with pytest.raises(StoreError, match="Unknown format"):
        store.export("runs", tmp_path / "x.xlsx", "xlsx")


def test_unwritable_database_path_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("I am a file, not a folder")
    with pytest.raises(StoreError, match="Cannot create the database folder"):
        Store(blocker / "perfics.duckdb").init()


def test_corrupt_database_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(StoreError, match="Cannot open the database"):
        Store(path).init()
    assert path.read_bytes().startswith(b"this is not")  # nothing was overwritten


def test_database_locked_by_another_process_times_out_clearly(tmp_path):
    path = tmp_path / "locked.duckdb"
    Store(path).init()
    holder = hold_lock(path, 30)
    try:
        with pytest.raises(StoreLocked, match="locked by another process"):
            Store(path, lock_timeout_s=0.5).generations.save(_gen())
    finally:
        holder.kill()
        holder.wait()
    assert Store(path).db.scalar("SELECT count(*) FROM generations") == 0


def test_brief_lock_is_waited_out(tmp_path):
    path = tmp_path / "busy.duckdb"
    Store(path).init()
    holder = hold_lock(path, 1.0)
    waiter = threading.Thread(target=holder.wait)
    waiter.start()
    Store(path, lock_timeout_s=20).generations.save(_gen())
    waiter.join()
    assert holder.returncode == 0
    assert Store(path).db.scalar("SELECT count(*) FROM generations") == 1
