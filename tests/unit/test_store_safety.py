"""The store and its exports under hostile or unlucky conditions (issue 15): `perfics export`
onto the database itself, over an existing file, into a place it cannot write; a store written
by a newer build; a disk that fills up under the store."""

import os
import resource
import signal
import subprocess
import sys
import textwrap

import duckdb
import pandas as pd
import pytest

from core.app.cli import main
from core.engine.fake import FakeBackend
from core.errors import SchemaTooNew, StoreFull
from core.store import Store
from core.store.duck import now
from core.store.migrations import MIGRATIONS
from core.types import SamplerSettings
from tests.media_support import fill_disk, read_only_folder, small_tmpfs
from tests.support import CLI, ROOT, finished_run

KNOWN = len(MIGRATIONS)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _gen():
    return FakeBackend(["a stored answer"]).complete("a question", SamplerSettings(seed=7))


def _limited_file_size(max_bytes: int):
    """A subprocess's preexec: files it writes cannot grow past max_bytes (EFBIG instead of
    the SIGXFSZ that would kill it)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.fixture
def db(store):
    """A store holding a finished, judged run (generations and judgments to export)."""
    finished_run(store)
    return store.path


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


# --- export ---------------------------------------------------------------------------------


def test_export_never_writes_onto_the_store_or_its_wal(capsys, db, tmp_path, monkeypatch):
    before = db.read_bytes()
    wal = db.with_name(db.name + ".wal")
    link = tmp_path / "looks-harmless.csv"
    link.symlink_to(db)
    targets = [(db, []), (db, ["--force"]), (wal, ["--force"]), (link, ["--force"])]
    for target, force in targets:
        code, out, err = cli(capsys, "export", "generations", "--out", str(target), *force)
        assert code == 1 and out == "", target
        assert "is the results database itself" in err and "--force" not in err, err
    monkeypatch.chdir(db.parent)  # the same file by a relative name
    for name in (db.name, f"./{db.name}.wal"):
        code, _, err = cli(capsys, "export", "runs", "--format", "csv", "--out", name, "--force")
        assert code == 1 and "is the results database itself" in err
    assert db.read_bytes() == before and not wal.exists()
    assert Store(db).db.scalar("SELECT count(*) FROM generations") > 0  # still a database


def test_export_replaces_an_existing_file_only_when_forced(capsys, db, tmp_path):
    out_file = tmp_path / "out" / "generations.csv"
    out_file.parent.mkdir()
    out_file.write_text("keep me\n")
    args = ("export", "generations", "--format", "csv", "--out", str(out_file))
    code, _, err = cli(capsys, *args)
    assert code == 1 and "exists already" in err and "--force" in err
    assert out_file.read_text() == "keep me\n"
    code, _, err = cli(capsys, *args, "--force")
    rows = Store(db).db.scalar("SELECT count(*) FROM generations")
    assert code == 0 and f"wrote {rows} rows" in err
    assert len(pd.read_csv(out_file)) == rows
    assert _files(out_file.parent) == ["generations.csv"]  # no temporary file left
    code, _, err = cli(capsys, "export", "runs", "--out", str(out_file.parent), "--force")
    assert code == 1 and "is a folder" in err


def test_export_errors_name_the_output_path(capsys, db, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out_file = blocker / "runs.csv"
    code, out, err = cli(capsys, "export", "runs", "--format", "csv", "--out", str(out_file))
    assert code == 1 and out == ""
    assert err.startswith(f"error: Cannot write {out_file}: the folder {blocker} cannot be made")
    assert "Database error" not in err and str(db) not in err
    assert blocker.read_text() == "not a folder"

    # A folder that cannot be written (read-only media, or no permission).
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "old.csv").write_text("old\n")
    with read_only_folder(exports) as ro:
        target = ro.path / "runs.csv"
        result = ro.run_cli("export", "runs", "--format", "csv", "--out", str(target))
        assert result.returncode == 1, (ro.how, result.stderr)
        assert result.stderr.startswith(f"error: Cannot write {target}: "), result.stderr
        assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr
        forced = ro.run_cli(
            "export", "runs", "--format", "csv", "--out", str(ro.path / "old.csv"), "--force"
        )
        assert forced.returncode == 1 and f"Cannot write {ro.path / 'old.csv'}" in forced.stderr
    assert _files(exports) == ["old.csv"] and (exports / "old.csv").read_text() == "old\n"


def test_export_onto_a_full_disk_names_the_output_and_leaves_the_old_file(capsys, db, tmp_path):
    with small_tmpfs(tmp_path / "tiny", "16k") as tiny:
        if tiny is None:
            pytest.skip("cannot mount a tmpfs here; the file size limit test below covers it")
        (tiny / "generations.csv").write_text("old\n")
        target = tiny / "generations.csv"
        code, _, err = cli(
            capsys, "export", "generations", "--format", "csv", "--out", str(target), "--force"
        )
        assert code == 1 and err.startswith(f"error: Cannot write {target}: "), err
        assert "No space left on device" in err and "Traceback" not in err
        assert target.read_text() == "old\n" and _files(tiny) == ["generations.csv"]


def test_export_past_the_file_size_limit_names_the_output(db, tmp_path):
    target = tmp_path / "exports" / "generations.csv"
    result = subprocess.run(
        [*CLI, "export", "generations", "--format", "csv", "--out", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=_limited_file_size(4096),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: Cannot write {target}: File too large\n"
    assert _files(target.parent) == []


# --- a store from a newer build -------------------------------------------------------------


def _from_the_future(path, version: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "INSERT INTO schema_version VALUES (?, 'm_from_the_future', ?)", [version, now()]
        )


def test_a_store_written_by_a_newer_build_is_refused_and_left_alone(capsys, store, tmp_path):
    store.init()
    path = store.path
    _from_the_future(path, KNOWN + 2)
    before, files = path.read_bytes(), _files(path.parent)
    expected = (
        f"The database {path} was written by a newer PeRFICS Studio (schema version "
        f"{KNOWN + 2}); this build knows up to {KNOWN}."
    )
    export = ["export", "runs", "--out", str(tmp_path / "runs.parquet")]
    for command in (["run", "--list"], ["suite", "list"], export):
        code, out, err = cli(capsys, *command)
        assert code == 1 and out == "" and expected in err, (command, err)
    with pytest.raises(SchemaTooNew, match="Upgrade PeRFICS Studio, or point PERFICS_DB"):
        Store(path).generations.save(_gen())
    assert path.read_bytes() == before and _files(path.parent) == files
    # Opened read-only (read-only media), it is refused the same way.
    with read_only_folder(path.parent) as ro:
        result = ro.run_cli("run", "--list", env={"PERFICS_DB": str(ro.path / path.name)})
        assert result.returncode == 1 and f"(schema version {KNOWN + 2})" in result.stderr
        assert f"this build knows up to {KNOWN}" in result.stderr
    assert path.read_bytes() == before


# --- a full disk under the store ------------------------------------------------------------


def test_a_full_disk_under_the_store_is_reported_and_keeps_what_was_stored(tmp_path):
    with small_tmpfs(tmp_path / "tiny", "4m") as tiny:
        if tiny is None:
            pytest.skip("cannot mount a tmpfs here; the file size limit test below covers it")
        store = Store(tiny / "perfics.duckdb")
        kept = store.generations.save(_gen())
        filler = fill_disk(tiny)
        with pytest.raises(StoreFull) as raised:
            store.generations.save(_gen(), text="x" * 200_000)
        message = str(raised.value)
        assert message.startswith(f"The disk holding {store.path} is full (No space left on ")
        assert "everything finished before it is kept" in message
        filler.unlink()
        stored = Store(store.path).db.rows("SELECT id FROM generations")
        assert stored == [(kept,)]


def test_a_store_past_the_file_size_limit_is_reported_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "limited" / "perfics.duckdb"
    kept = Store(path).generations.save(_gen())
    code = textwrap.dedent(
        f"""
        from core.engine.fake import FakeBackend
        from core.errors import StoreFull
        from core.store import Store
        from core.types import SamplerSettings
        gen = FakeBackend(["x"]).complete("q", SamplerSettings(seed=7))
        try:
            Store({str(path)!r}).generations.save(gen, text="x" * 2_000_000)
        except StoreFull as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=_limited_file_size(os.path.getsize(path) + 65536),
    )
    assert result.stdout.startswith(
        f"The database {path} has reached the largest file this system allows (File too large)"
    ), (result.stdout, result.stderr)
    assert "everything finished before it is kept" in result.stdout
    assert Store(path).db.rows("SELECT id FROM generations") == [(kept,)]


def test_export_to_a_file_name_that_is_not_utf8_keeps_its_bytes(db, tmp_path, capsys):
    # A POSIX name may hold any bytes; DuckDB takes UTF-8 paths only, so the export is
    # written under a plain temporary name and renamed to the bytes asked for.
    name = os.fsdecode(b"caf\xe9.csv")
    code, _, err = cli(
        capsys, "export", "generations", "--format", "csv", "--out", str(tmp_path / name)
    )
    assert code == 0, err
    assert b"caf\xe9.csv" in os.listdir(os.fsencode(tmp_path))
    stored = duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM generations")
    assert len(pd.read_csv(tmp_path / name)) == stored.fetchall()[0][0]
    assert "caf\ufffd.csv" in err  # printed readably, never a UnicodeEncodeError
    assert not [n for n in os.listdir(tmp_path) if "partial" in n]


def test_export_into_a_folder_whose_name_is_not_utf8_is_one_line(db, tmp_path, capsys):
    folder = tmp_path / os.fsdecode(b"d\xff")
    code, _, err = cli(capsys, "export", "runs", "--out", str(folder / "runs.parquet"))
    assert code == 1
    assert err.count("\n") == 1 and "not valid UTF-8" in err and "unexpected" not in err
    assert not folder.exists()
