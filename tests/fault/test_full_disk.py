"""A benchmark run whose store outgrows its disk part-way: `perfics run` stops with one clear
line saying the disk is full (no traceback) and a non-zero status; every unit its progress
bar counted is still stored once space is back, and `--resume` completes the run with
exactly what an uninterrupted run stores, nothing lost, nothing twice.

Two ways to run out of room, each tried when this machine allows it: a small tmpfs filled up
(root with CAP_SYS_ADMIN), and RLIMIT_FSIZE on the process (EFBIG; works for anyone). The
questions are long (about 25 KB each), so each unit stores some 100 KB and the run needs
far more room than it is left."""

from __future__ import annotations

import json
import random
import signal
from contextlib import nullcontext
from pathlib import Path

import pytest

from core.app.cli import main
from tests.fault.fault_support import (
    CliProcess,
    cli_env,
    file_size_limit,
    leave_room,
    message_lines,
    read_store,
)
from tests.media_support import fill_disk, small_tmpfs
from tests.support import GEMMA, MODELS_DIR, SMOLLM2

QUESTIONS = 4
WORDS_PER_QUESTION = 6000
MODELS = (SMOLLM2, GEMMA)
UNITS = QUESTIONS * 3  # two answers and their pair per question
HEADROOM_BYTES = 256 * 1024  # room left to grow: the rest of the run needs MBs
FIRST_UNITS = 2  # done before the disk runs out


def _long_suite(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        for i in range(QUESTIONS):
            words = " ".join(f"{rng.getrandbits(40):010x}" for _ in range(WORDS_PER_QUESTION))
            record = {"id": f"long{i}", "category": "writing", "question": f"Summarise: {words}"}
            out.write(json.dumps(record) + "\n")


def _models(folder: Path) -> Path:
    folder.mkdir()
    for name in MODELS:
        (folder / f"{name}.gguf").symlink_to(MODELS_DIR / f"{name}.gguf")
    return folder


NEW_RUN = [
    "run", "--suite", "long", "--models", ",".join(MODELS), "--judge", SMOLLM2,
    "--rounds", "1", "--max-tokens", "16",
]  # fmt: skip


def _content(db: Path, run_id: str, done_only: bool = False):
    where = "AND item_no IN (SELECT item_no FROM run_items WHERE run_id = ? AND status = 'done')"
    extra, params = (where, [run_id, run_id]) if done_only else ("", [run_id])
    return (
        read_store(
            db,
            "SELECT item_no, kind, model_name, other_model_name, status, baseline, final "
            f"FROM run_items WHERE run_id = ? {extra} ORDER BY item_no",
            params,
        ),
        read_store(
            db,
            f"SELECT item_no, step, kind, model_name, text FROM generations WHERE run_id = ? "
            f"{extra} ORDER BY item_no, step",
            params,
        ),
        read_store(
            db,
            "SELECT item_no, kind, subject, order_ab, status, score, verdict FROM judgments "
            f"WHERE run_id = ? {extra} ORDER BY item_no, kind, subject, order_ab",
            params,
        ),
    )


def _only_units(content, units: set[int]):
    return tuple([row for row in rows if row[0] in units] for rows in content)


def _in_process(monkeypatch, env: dict, *argv: str) -> None:
    for name in ("PERFICS_DB", "PERFICS_CACHE_DIR", "PERFICS_MODELS_DIR", "PERFICS_BACKEND"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("PERFICS_FAKE_DELAY_S", "0")
    assert main(list(argv)) == 0


def _run_id(db: Path) -> str:
    ((run_id,),) = read_store(db, "SELECT id FROM runs WHERE kind = 'benchmark'")
    return run_id


@pytest.fixture(scope="module")
def reference(tmp_path_factory, model_cache):
    """The suite, the models, and the run done uninterrupted on a roomy disk: what every unit
    must end up as."""
    folder = tmp_path_factory.mktemp("full-disk")
    suite, models = folder / "long.jsonl", _models(folder / "models")
    _long_suite(suite)
    env = cli_env(folder / "reference.duckdb", model_cache, models)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _in_process(monkeypatch, env, "suite", "import", str(suite), "--name", "long")
        _in_process(monkeypatch, env, *NEW_RUN, "--quiet")
    content = _content(folder / "reference.duckdb", _run_id(folder / "reference.duckdb"))
    assert [row[4] for row in content[0]] == ["done"] * UNITS
    return suite, models, content


@pytest.mark.parametrize("room", ["tmpfs", "file size limit"])
def test_a_full_disk_stops_the_run_clearly_and_keeps_every_finished_unit(
    room, tmp_path, monkeypatch, fault_report, model_cache, reference
):
    suite, models, reference = reference
    cache = model_cache
    disk = tmp_path / "disk"
    room_for = small_tmpfs(disk, "64m") if room == "tmpfs" else nullcontext(disk)
    with room_for as mounted:
        if room == "tmpfs" and mounted is None:
            pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
        disk.mkdir(exist_ok=True)
        db = disk / "perfics.duckdb"
        env = cli_env(db, cache, models, delay_s=0.02)
        _in_process(monkeypatch, env, "suite", "import", str(suite), "--name", "long")
        # The first units on plenty of room, then Ctrl+C: a run part-way through.
        first = CliProcess(NEW_RUN, env)
        assert first.wait_for(lambda p: p is not None and p[0] >= FIRST_UNITS), first.stderr
        first.proc.send_signal(signal.SIGINT)
        assert first.finish() == 130, first.stderr
        run_id = _run_id(db)
        counted_before = first.done

        # DuckDB appends to the .wal beside the store as it works (and checkpoints into the
        # store file far later), so that is the file the limit stops first.
        wal = db.with_name(db.name + ".wal")
        grown = (wal.stat().st_size if wal.exists() else 0) + HEADROOM_BYTES
        limit = file_size_limit(grown) if room == "file size limit" else None
        resumed = CliProcess(["run", "--resume", run_id], env, preexec_fn=limit)
        if room == "tmpfs":
            assert resumed.wait_for(lambda p: p is not None), resumed.stderr
            leave_room(fill_disk(disk), HEADROOM_BYTES)
        status = resumed.finish()
        lines = message_lines(resumed.stderr)
        assert status not in (0, -signal.SIGXFSZ), resumed.stderr
        assert "Traceback" not in resumed.stderr
        errors = [line for line in lines if line.startswith("error:")]
        assert errors == [lines[-1]], resumed.stderr  # one error line, the last one
        assert any(word in errors[0].lower() for word in ("full", "too large")), errors
        counted = resumed.done or counted_before
        assert counted < UNITS  # it did run out of room part-way

        # Room again: the filler removed, or no limit.
        (disk / "filler").unlink(missing_ok=True)
        kept = {row[0] for row in _content(db, run_id, done_only=True)[0]}
        assert len(kept) >= counted  # every unit the bar counted is stored
        assert _content(db, run_id, done_only=True) == _only_units(reference, kept)
        final = CliProcess(["run", "--resume", run_id, "--quiet"], env)
        assert final.finish() == 0, final.stderr
        stored = _content(db, run_id)
    lost = UNITS - sum(row[4] == "done" for row in stored[0])
    duplicated = sum(len(rows) for rows in stored) - sum(len(rows) for rows in reference)
    fault_report(
        f"full disk ({room}): stopped at {counted}/{UNITS} units with {errors[0]!r}; "
        f"{len(kept)} kept, resumed to {UNITS - lost}/{UNITS}, {lost} lost, "
        f"{duplicated} duplicated"
    )
    assert stored == reference
