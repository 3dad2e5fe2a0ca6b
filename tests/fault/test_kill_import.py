"""kill -9 at seeded random moments of real `perfics classify import` and `perfics suite
import` processes reading a generated file of thousands of rows. After every kill the dataset
(or suite) is either absent or complete, never half there, so the plain re-run works; once
complete, a killed `--replace` keeps it complete. It ends with exactly the file's rows, each
once.

A kill lands anywhere from Python starting to the process exiting: drawn uniformly over the
time one uninterrupted import takes here (measured first), so some land during start-up,
the schema's creation (first attempt), reading the file, the insert and after the commit."""

from __future__ import annotations

import csv
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fault.fault_support import (
    CliProcess,
    cli_env,
    has_table,
    message_lines,
    models_folder,
    read_store,
)

SEED = 20261124
KILLS = 12  # per import (24 in all): half while nothing is stored yet, half replacing it
ROWS = 2000
NAME = "big"


@dataclass(frozen=True)
class ImportCase:
    label: str
    write: Callable[[Path, random.Random], list[str]]  # the file; returns its ids
    args: Callable[[Path], list[str]]
    table: str  # where its rows go, keyed (owner column, id column)
    owner: str
    id_column: str

    def ids(self, db: Path) -> list[str]:
        """Every stored id of the import named NAME, duplicates included."""
        if not has_table(db, self.table):
            return []
        return [
            row[0]
            for row in read_store(
                db, f"SELECT {self.id_column} FROM {self.table} WHERE {self.owner} = ?", [NAME]
            )
        ]


def _words(rng: random.Random, n: int) -> str:
    vocabulary = ("budget", "health", "defense", "tax", "school", "river", "loan", "farm")
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def _texts_file(path: Path, rng: random.Random) -> list[str]:
    ids = [f"t{i:05d}" for i in range(ROWS)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "gold"])
        for text_id in ids:
            writer.writerow([text_id, _words(rng, 14), rng.choice("123")])
    return ids


def _questions_file(path: Path, rng: random.Random) -> list[str]:
    ids = [f"q{i:05d}" for i in range(ROWS)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "question", "category"])
        for qid in ids:
            writer.writerow([qid, f"Why {_words(rng, 10)}?", rng.choice(["writing", "math"])])
    return ids


CASES = [
    ImportCase(
        "classify import",
        _texts_file,
        lambda path: [
            "classify",
            "import",
            str(path),
            "--name",
            NAME,
            "--id-column",
            "id",
            "--text-column",
            "text",
            "--gold-column",
            "gold",
        ],  # fmt: skip
        "cls_texts",
        "dataset",
        "text_id",
    ),
    ImportCase(
        "suite import",
        _questions_file,
        lambda path: ["suite", "import", str(path), "--name", NAME],
        "questions",
        "suite",
        "id",
    ),
]


def _state(case: ImportCase, db: Path, expected: list[str]) -> str:
    ids = case.ids(db)
    if not ids:
        return "absent"
    assert sorted(ids) == expected, (
        f"{case.label} left a half import: {len(ids)} rows, {len(set(ids))} distinct, "
        f"of {len(expected)}"
    )
    return "complete"


def _snapshot(db: Path, folder: Path) -> None:
    """The store file and its .wal (whichever exist) copied into `folder`, replacing both."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        target = folder / (db.name + suffix)
        target.unlink(missing_ok=True)
        source = db.with_name(db.name + suffix)
        if source.exists():
            shutil.copy2(source, target)


def _import_and_kill(case, args, env, delay_s) -> bool:
    proc = CliProcess(args, env)
    while proc.proc.poll() is None and time.monotonic() < proc.started + delay_s:
        time.sleep(0.005)
    killed = proc.kill()
    assert killed or proc.proc.returncode == 0, proc.stderr  # finished before the kill
    return killed


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_kill_9_during_an_import_never_leaves_half_of_it(case, tmp_path, fault_report, model_cache):
    rng = random.Random(f"{SEED}:{case.label}")
    source = tmp_path / "rows.csv"
    expected = sorted(case.write(source, rng))
    cache, models = model_cache, models_folder(tmp_path)

    # One uninterrupted import into a store of its own: how long an import takes here.
    timing_env = cli_env(tmp_path / "timing" / "perfics.duckdb", cache, models)
    started = time.monotonic()
    assert CliProcess(case.args(source), timing_env).finish() == 0
    full_s = time.monotonic() - started

    db = tmp_path / "store" / "perfics.duckdb"
    env = cli_env(db, cache, models)
    # What each kill left: of a first import, nothing or all of it; of a --replace, the old.
    outcomes = {"first: absent": 0, "first: complete": 0, "replace: complete": 0}
    kills = attempts = 0
    while kills < KILLS:
        attempts += 1
        assert attempts < 4 * KILLS, f"kills keep missing ({kills} of {attempts})"
        before = _state(case, db, expected)
        fresh = kills < KILLS // 2
        if fresh:
            _snapshot(db, tmp_path / "snapshot")
        replace = ["--replace"] if before == "complete" else []
        if _import_and_kill(case, case.args(source) + replace, env, rng.uniform(0, 1.1) * full_s):
            kills += 1
            after = _state(case, db, expected)
            # A killed replace keeps the complete import it was replacing.
            assert not (before == "complete" and after == "absent"), case.label
            outcomes[f"{'replace' if replace else 'first'}: {after}"] += 1
        if fresh and _state(case, db, expected) == "complete":
            # Committed before the kill (or not killed): back to the killed store it started
            # from, so that the first half's kills all meet an import that is not there yet.
            _snapshot(tmp_path / "snapshot" / db.name, db.parent)
        if kills == KILLS // 2 and _state(case, db, expected) == "absent":
            # The plain re-run, uninterrupted, after the kills so far.
            rerun = CliProcess(case.args(source), env)
            assert rerun.finish() == 0, rerun.stderr

    # Complete now; the plain re-run a user would type says so in one line.
    assert _state(case, db, expected) == "complete"
    rerun = CliProcess(case.args(source), env)
    assert rerun.finish() != 0
    (line,) = message_lines(rerun.stderr)
    assert line.startswith("error:") and "exists already" in line, rerun.stderr
    stored = case.ids(db)
    lost, duplicated = len(set(expected) - set(stored)), len(stored) - len(set(stored))
    first = outcomes["first: absent"] + outcomes["first: complete"]
    fault_report(
        f"kill -9 loop ({case.label}): {kills} kills: {first} during a first import "
        f"({outcomes['first: absent']} left nothing, {outcomes['first: complete']} all of it), "
        f"{outcomes['replace: complete']} during --replace (the old one kept whole); "
        f"{len(set(stored))}/{len(expected)} rows, {lost} lost, {duplicated} duplicated"
    )
    assert (lost, duplicated) == (0, 0)
    assert sorted(stored) == expected
