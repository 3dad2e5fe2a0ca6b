"""The "no traceback" guard: every `perfics` command, run with each bad input that applies to
it (guard_rows.py), exits non-zero with exactly one line on stderr starting "error:" (a tqdm
bar aside), never a traceback, and writes nothing anywhere: no file appears or changes in its
sandbox and no row of the store changes. A command added to the parser without rows fails
test_every_command_has_rows.

Rows run in this process through main(argv) (stdout as strict as a UTF-8 terminal's); rows
that need a real process (a file unreadable for whoever runs it, a signal, a closed pipe) run
as one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.fault.fault_support import CliProcess, message_lines
from tests.fault.guard_harness import (
    LockHolder,
    check,
    env_for,
    fill,
    run_as_process,
    run_in_process,
    seed_template,
    seeded_run,
    snapshot,
    store_rows,
    store_state,
)
from tests.fault.guard_rows import (
    BASE,
    NO_STORE,
    NO_WRITE_REACHED,
    NOT_TEXT,
    READS,
    ROWS,
    STATE_WORDS,
    leaf_commands,
    text_options,
)
from tests.support import CLI, ROOT


@pytest.fixture(scope="module")
def template(tmp_path_factory, model_cache) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("guard") / "template"
    seed_template(folder)
    return folder, seeded_run(folder)


@pytest.fixture(scope="module")
def locks():
    holder = LockHolder()
    yield holder
    holder.close()


@pytest.fixture
def sandbox(template, tmp_path) -> Path:
    folder = tmp_path / "sandbox"
    shutil.copytree(template[0], folder, symlinks=True)
    return folder


def test_every_command_has_rows(fault_report):
    commands = leaf_commands()
    assert set(BASE) == set(commands), "give a new command its valid call in BASE"
    with_rows = {row.command for row in ROWS if row.store == "seeded"}
    assert set(commands) - with_rows == set(), "a command without bad-input rows"
    assert NO_STORE <= set(BASE) and READS <= set(BASE) - NO_STORE
    for command in set(BASE) - NO_STORE:
        states = {row.store for row in ROWS if row.command == command} - {"seeded"}
        skipped = {"read-only media"} if command in READS | NO_WRITE_REACHED else set()
        assert states >= set(STATE_WORDS) - skipped
    for command, parser in commands.items():
        tried = {row.argv[-2] for row in ROWS if row.command == command and "UTF-8" in row.bad}
        untried = {(command, option) for option in text_options(parser)} - {
            (command, option) for option in tried
        }
        assert untried <= NOT_TEXT, untried
    kinds = Counter(
        "store states" if row.store != "seeded" else "invalid UTF-8" if "UTF-8" in row.bad
        else "other inputs"
        for row in ROWS
    )  # fmt: skip
    fault_report(
        f"no-traceback guard: {len(commands)} commands, {len(ROWS)} rows "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}) + signals, pipes"
    )


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_gives_one_line_error(row, sandbox, template, locks, model_cache, monkeypatch):
    env = {**env_for(sandbox, model_cache), **dict(row.env)}
    env = {name: fill((value,), sandbox, template[1])[0] for name, value in env.items()}
    argv = fill(row.argv, sandbox, template[1])
    with store_state(row.store, sandbox, locks) as state:
        env.update(state.env)
        files_before = snapshot(sandbox, with_store=row.store == "corrupt")
        rows_before = None if row.store == "locked" else store_rows(sandbox)
        if row.process or not state.in_process:
            outcome = run_as_process(argv, env, sandbox, row.process, state.prefix)
        else:
            outcome = run_in_process(argv, monkeypatch, env)
        files_after = snapshot(sandbox, with_store=row.store == "corrupt")
        rows_after = None if row.store == "locked" else store_rows(sandbox)
    check(row, outcome)
    if not row.writes:
        # Beside the error line, an unexpected error's traceback goes to a log in logs/.
        logged = {
            p for p in files_after if Path(p).parts[-2:-1] == ("logs",) or p.endswith("/logs")
        }
        assert {k: v for k, v in files_after.items() if k not in logged} == files_before
        assert rows_after == rows_before


# learn compare reads a finished learning curve; the seeded store has none (its rows for the
# other states still run).
@pytest.mark.parametrize("command", sorted(READS - {"learn compare"}))
def test_reading_commands_work_on_read_only_media(command, sandbox, template, model_cache,
                                                  monkeypatch):  # fmt: skip
    """The store on read-only media still lists, shows and exports (and says it is read-only),
    with no traceback."""
    env = env_for(sandbox, model_cache)
    argv = fill(BASE[command], sandbox, template[1])
    if command == "rank":
        argv.append("--accept-unreliable-judge")
    with store_state("read-only media", sandbox) as state:
        env.update(state.env)
        if state.in_process:
            outcome = run_in_process(argv, monkeypatch, env)
        else:
            outcome = run_as_process(argv, env, sandbox, prefix=state.prefix)
    shown = f"\n--- stdout\n{outcome.stdout}\n--- stderr\n{outcome.stderr}"
    assert outcome.code == 0 and "Traceback" not in outcome.stderr, shown
    assert [line for line in message_lines(outcome.stderr) if "read-only" in line], shown


# -- rows that need a real process: signals and a closed pipe --------------------------------


def _wait_for_units(proc: CliProcess, units: int) -> None:
    assert proc.wait_for(lambda p: p is not None and p[0] >= units), proc.stderr


@pytest.mark.parametrize(
    ("name", "sig", "said"),
    [("Ctrl+C", signal.SIGINT, "interrupted"), ("SIGTERM", signal.SIGTERM, "stopped")],
)
def test_a_signal_during_a_run_ends_it_in_one_line(name, sig, said, sandbox, model_cache):
    env = {**env_for(sandbox, model_cache), "PERFICS_FAKE_DELAY_S": "0.05"}
    argv = ["run", "--suite", "builtin", "--models", "fake-echo", "--limit", "4", "--rounds",
            "1", "--max-tokens", "8"]  # fmt: skip
    proc = CliProcess(argv, env)
    _wait_for_units(proc, 1)
    proc.proc.send_signal(sig)
    assert proc.finish() == 130, proc.stderr
    lines = [line for line in message_lines(proc.stderr) if not line.startswith("run ")]
    assert "Traceback" not in proc.stderr and lines == [lines[-1]], proc.stderr
    assert said in lines[-1], proc.stderr


@pytest.mark.parametrize("command", ["suite list", "models", "results", "run --list"])
def test_a_closed_pipe_on_stdout_ends_quietly(command, sandbox, template, model_cache):
    """`perfics ... | head -1`: the reader goes away; no BrokenPipeError traceback."""
    argv = fill(BASE.get(command, tuple(command.split())), sandbox, template[1])
    env = {**os.environ, **env_for(sandbox, model_cache)}
    read, write = os.pipe()
    os.close(read)  # nobody will ever read
    try:
        done = subprocess.run([*CLI, *argv], cwd=ROOT, env=env, stdout=write,
                              stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    finally:
        os.close(write)
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert len(message_lines(stderr)) <= 1, stderr
