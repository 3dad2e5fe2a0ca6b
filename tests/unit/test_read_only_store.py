"""A store on read-only media (or without permission to write it) opens read-only: listings,
results and exports work and say so once; every write is refused clearly; nothing in the
folder changes, not even by the bookkeeping listings do on the way (issue 15, item 5)."""

import json
import os

import duckdb
import pandas as pd
import pytest

from core.evaluation.lifecycle import this_process
from core.store import Store
from core.store.duck import now
from core.store.migrations import MIGRATIONS
from tests.media_support import read_only_folder
from tests.support import finished_run

NOTE = "is read-only"


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Commands run on the fake backend."""


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _stored_with_a_wal(store: Store) -> tuple[str, str]:
    """A judged run; a second run whose worker is gone although the store says it is
    running; and a suite committed to the .wal only (as a killed process leaves it)."""
    done = finished_run(store)
    dead = finished_run(store)
    me = this_process()  # this pid with another start time: a process that no longer exists
    store.db.execute(
        "UPDATE runs SET status = 'running', pid = ?, owner_started_at = ? WHERE id = ?",
        [me.pid, me.started - 100, dead],
    )
    con = duckdb.connect(str(store.path))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("INSERT INTO suites VALUES ('only-in-the-wal', 'test', ?)", [now()])
    con.close()
    assert os.path.getsize(f"{store.path}.wal") > 0
    return done, dead


def test_a_read_only_store_lists_shows_results_and_exports(store, tmp_path):
    done, dead = _stored_with_a_wal(store)
    folder = store.path.parent
    before = _snapshot(folder)
    out = tmp_path / "exports" / "suites.csv"
    with read_only_folder(folder) as ro:
        env = {"PERFICS_DB": str(ro.path / store.path.name)}

        def perfics(*args):
            result = ro.run_cli(*args, env=env)
            assert "Traceback" not in result.stderr, result.stderr
            return result

        listing = perfics("run", "--list", "--json")
        assert listing.returncode == 0, (ro.how, listing.stderr)
        assert listing.stderr.count(NOTE) == 1
        assert f"note: {env['PERFICS_DB']} is read-only (" in listing.stderr
        assert "showing what it holds, nothing can be changed" in listing.stderr
        status = {r["id"]: r["status"] for r in json.loads(listing.stdout)}
        assert status == {done: "completed", dead: "interrupted"}

        results = perfics("results", "--run", done, "--json")
        assert results.returncode == 0, results.stderr
        report = json.loads(results.stdout)
        assert report["run_id"] == done and report["status"] == "completed" and report["results"]

        suites = perfics("suite", "list", "--json")
        assert suites.returncode == 0, suites.stderr
        assert "only-in-the-wal" in {s["name"] for s in json.loads(suites.stdout)}

        for command in (
            ("classify", "import", "--list"),
            ("learn", "adapters"),
            ("rank", "--accept-unreliable-judge"),
        ):
            result = perfics(*command)
            assert result.returncode == 0, (command, result.stderr)

        exported = perfics("export", "suites", "--format", "csv", "--out", str(out))
        assert exported.returncode == 0 and exported.stderr.count(NOTE) == 1, exported.stderr
        assert "only-in-the-wal" in set(pd.read_csv(out).name)

        writes = (
            ("generate", "--model", "fake-echo", "--prompt", "hi"),
            ("refine", "--model", "fake-echo", "--prompt", "hi"),
            ("run", "--suite", "builtin", "--models", "fake-echo", "--limit", "1"),
            ("run", "--resume", dead),
            ("run", "--delete", done),
            ("suite", "import", "tests/data/ours.csv", "--name", "mine"),
        )
        for command in writes:
            refused = perfics(*command)
            assert refused.returncode == 1, (command, refused.stderr)
            assert f"error: The database {env['PERFICS_DB']} is read-only (" in refused.stderr
            assert "copy it to a writable folder" in refused.stderr, refused.stderr
    assert _snapshot(folder) == before  # not a byte written, the .wal still there
    with duckdb.connect(str(store.path), read_only=True) as con:
        assert con.execute("SELECT status FROM runs WHERE id = ?", [dead]).fetchall() == [
            ("running",)
        ]


def test_an_old_schema_on_read_only_media_names_both_versions(tmp_path):
    path = tmp_path / "old" / "perfics.duckdb"
    path.parent.mkdir()
    older = len(MIGRATIONS) - 1
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
            "applied_at TIMESTAMP)"
        )
        for version, migration in enumerate(MIGRATIONS[:older], start=1):
            migration(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, "m", now()])
    before = _snapshot(path.parent)
    with read_only_folder(path.parent) as ro:
        result = ro.run_cli("run", "--list", env={"PERFICS_DB": str(ro.path / path.name)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"has schema version {older} and this build needs version {len(MIGRATIONS)}, but it is "
        "read-only (" in result.stderr
    ), result.stderr
    assert "cannot be upgraded" in result.stderr
    assert _snapshot(path.parent) == before
    assert Store(path).init() == len(MIGRATIONS)  # where it can be written, it is upgraded


def test_a_read_only_store_in_process_reads_and_refuses_writes(store):
    run_id = finished_run(store)
    with read_only_folder(store.path.parent) as ro:
        if not ro.in_process:
            pytest.skip(f"{ro.how}: only a subprocess sees the folder read-only")
        seen = Store(ro.path / store.path.name)
        assert seen.read_only and seen.read_only_reason
        assert seen.runs.get(run_id).id == run_id
        with pytest.raises(Exception, match="is read-only") as refused:
            seen.runs.request_stop(run_id)
        assert type(refused.value).__name__ == "StoreReadOnly"
        with pytest.raises(Exception, match="is read-only"):
            seen.init(write=True)
