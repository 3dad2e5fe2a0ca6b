"""kill -9 at seeded random moments of real `perfics run` processes, then `--resume`: every
unit of every run ends stored exactly once, with exactly what an uninterrupted run stores.

Each kill is aimed at one phase, drawn from a seeded generator: start-up (Python starting,
the store opening, the run being created or claimed), mid-item (inside a unit, between its
generations), between items (the moment the progress bar counts a unit: its transaction has
just committed and the next unit begins) and near the end (the last unit, completion, exit).
A run that completes makes way for a new one, so every kill leaves work to do."""

from __future__ import annotations

import random
import time
from collections import Counter
from math import comb
from pathlib import Path

from core.app.cli import main
from tests.fault.fault_support import CliProcess, cli_env, models_folder, read_store

SEED = 20261124
KILLS = 24
MODELS = ("fake-echo", "SmolLM2-135M-Instruct.Q4_1")
QUESTIONS = 3
# Per question: each model's answer, then the pair judged.
UNITS_PER_RUN = QUESTIONS * (len(MODELS) + comb(len(MODELS), 2))
NEW_RUN = [
    "run",
    "--suite",
    "builtin",
    "--models",
    ",".join(MODELS),
    "--judge",
    MODELS[0],
    "--limit",
    str(QUESTIONS),
    "--rounds",
    "1",
    "--max-tokens",
    "32",
]
DELAY_S = 0.03  # per fake call: a unit makes about eight
PHASES = ("start-up", "mid-item", "between items", "near the end")


def _runs(db: Path) -> list[tuple[str, str]]:
    return read_store(db, "SELECT id, status FROM runs WHERE kind = 'benchmark' ORDER BY id")


def _unfinished(db: Path) -> str | None:
    open_runs = [run_id for run_id, status in _runs(db) if status != "completed"]
    assert len(open_runs) <= 1, open_runs  # a new run starts only once the last one completed
    return open_runs[0] if open_runs else None


class Pace:
    """How long start-up and a unit take on this machine, learnt from the runs so far, so
    that kill moments scale with it (never asserted on)."""

    def __init__(self):
        self.startup_s, self.unit_s = 1.0, 0.5

    def learn(self, proc: CliProcess) -> None:
        times = proc.progress_times
        if times:
            self.startup_s = times[0] - proc.started
        if len(times) > 2:
            self.unit_s = (times[-1] - times[1]) / (len(times) - 2)


def _kill_in_phase(proc: CliProcess, phase: str, rng: random.Random, pace: Pace) -> bool:
    """Wait for the drawn moment of `phase`, then SIGKILL; True if the kill ended it."""
    if phase == "start-up":
        # Up to the first progress report: imports, the store opening, the run's creation
        # or claim, the models loading.
        moment = proc.started + rng.uniform(0.0, 1.0) * pace.startup_s
        proc.wait_for(lambda p: p is not None or time.monotonic() >= moment)
        return proc.kill()
    if not proc.wait_for(lambda p: p is not None):
        return proc.kill()
    done, total = proc.progress
    last = total - 1  # the count before the last unit; a resumed run may be past it
    first = min(done + (phase == "between items"), last)
    target = last if phase == "near the end" else rng.randint(first, last)
    if not proc.wait_for(lambda p: p[0] >= target):
        return proc.kill()
    if phase == "mid-item":
        time.sleep(rng.uniform(0.1, 0.9) * pace.unit_s)
    elif phase == "near the end":
        # The last unit, the run's completion and the process's exit.
        time.sleep(rng.uniform(0.0, 1.5) * pace.unit_s)
    return proc.kill()


def _content(db: Path, run_id: str):
    """What a run stored, unit by unit: outcomes, generations, judgments."""
    items = read_store(
        db,
        "SELECT item_no, kind, model_name, other_model_name, status, baseline, final "
        "FROM run_items WHERE run_id = ? ORDER BY item_no",
        [run_id],
    )
    generations = read_store(
        db,
        "SELECT item_no, step, kind, model_name, text FROM generations WHERE run_id = ? "
        "ORDER BY item_no, step",
        [run_id],
    )
    judgments = read_store(
        db,
        "SELECT item_no, kind, subject, order_ab, status, score, verdict FROM judgments "
        "WHERE run_id = ? ORDER BY item_no, kind, subject, order_ab",
        [run_id],
    )
    return items, generations, judgments


def _duplicates(db: Path) -> int:
    """Rows beyond the first per unit key: units, generation steps, judgments."""
    keys = {
        "run_items": "run_id, item_no",
        "generations": "run_id, item_no, step",
        "judgments": "run_id, item_no, kind, subject, order_ab",
    }
    return sum(
        read_store(
            db,
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT {key}, count(*) AS n FROM {table} "
            f"GROUP BY {key} HAVING count(*) > 1)",
        )[0][0]
        for table, key in keys.items()
    )


def _reference(tmp_path: Path, monkeypatch, env: dict) -> tuple:
    """The same run, never interrupted, in a store of its own (in this process, no delay)."""
    db = tmp_path / "reference.duckdb"
    for name in ("PERFICS_CACHE_DIR", "PERFICS_MODELS_DIR", "PERFICS_BACKEND"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("PERFICS_DB", str(db))
    monkeypatch.setenv("PERFICS_FAKE_DELAY_S", "0")
    assert main([*NEW_RUN, "--quiet"]) == 0
    ((run_id, status),) = _runs(db)
    assert status == "completed"
    return _content(db, run_id)


def test_kill_9_at_random_moments_then_resume_loses_and_duplicates_nothing(
    tmp_path, monkeypatch, fault_report, model_cache
):
    db = tmp_path / "store" / "perfics.duckdb"
    env = cli_env(db, model_cache, models_folder(tmp_path), DELAY_S)
    reference = _reference(tmp_path, monkeypatch, env)
    assert len(reference[0]) == UNITS_PER_RUN
    rng, pace = random.Random(SEED), Pace()
    kills: Counter[str] = Counter()
    attempts = 0
    while sum(kills.values()) < KILLS:
        attempts += 1
        assert attempts < 4 * KILLS, f"kills keep missing: {kills}"
        run_id = _unfinished(db)
        proc = CliProcess(["run", "--resume", run_id] if run_id else NEW_RUN, env)
        phase = rng.choice(PHASES)
        if _kill_in_phase(proc, phase, rng, pace):
            kills[phase] += 1
        else:
            assert proc.proc.returncode == 0, proc.stderr  # finished before the kill
        pace.learn(proc)

    for run_id in [r for r, status in _runs(db) if status != "completed"]:
        proc = CliProcess(["run", "--resume", run_id, "--quiet"], env)
        assert proc.finish() == 0, proc.stderr
    runs = _runs(db)
    assert {status for _, status in runs} == {"completed"}
    expected = UNITS_PER_RUN * len(runs)
    done = sum(
        read_store(
            db, "SELECT count(*) FROM run_items WHERE run_id = ? AND status = 'done'", [run_id]
        )[0][0]
        for run_id, _ in runs
    )
    lost, duplicated = expected - done, _duplicates(db)
    phases = ", ".join(f"{phase} {kills[phase]}" for phase in PHASES)
    fault_report(
        f"kill -9 loop (run): {sum(kills.values())} kills ({phases}) over {len(runs)} runs, "
        f"{done}/{expected} units, {lost} lost, {duplicated} duplicated"
    )
    assert sum(kills.values()) >= KILLS and all(kills[phase] for phase in PHASES)
    assert (lost, duplicated) == (0, 0)
    for run_id, _ in runs:
        # Every generation and judgment too, each once, and nothing a fresh run would not store.
        assert _content(db, run_id) == reference, run_id
