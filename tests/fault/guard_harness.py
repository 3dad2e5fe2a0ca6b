"""How the "no traceback" guard runs one row: a sandbox (a copy of a seeded store, a models
folder, input files good and bad), the store put in the row's state (locked, corrupt, from a
newer build, on read-only media), `perfics ARGV` run in this process or as a real one, and a
snapshot of everything the sandbox holds before and after, so that a failure that wrote
something where nothing should be written is caught."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from core.app.cli import main
from tests.fault.fault_support import (
    message_lines,
    models_folder,
    open_to_everyone,
    read_store,
)
from tests.media_support import read_only_folder
from tests.support import CLI, DATA, ROOT, unprivileged

STORE = "store/perfics.duckdb"
DOWN_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, connections refused
ENDPOINTS_TOML = f"""[[endpoint]]
name = "down"
base_url = "{DOWN_URL}"
model = "served-model"
"""
STATES = ("seeded", "locked", "corrupt", "newer schema", "read-only media")


@dataclass(frozen=True)
class Row:
    """One command with one bad input, and what it must do:
    - expect="error": exit non-zero, one stderr line starting "error:";
    - expect="rows": an import whose rows are invalid: exit non-zero, "error:" first, then
      each invalid row on a line of its own ("line N: why"), then one line on what to do;
    - expect="report": a check of several things (`endpoints check`): exit non-zero, each
      thing's outcome on stdout ("NAME: FAILED: why"), nothing on stderr;
    - expect="listed": a listing that shows the problem in its place on stdout (a models
      folder that is a file, an endpoints.toml that cannot be read), exit 0."""

    command: str
    bad: str
    argv: tuple[str, ...]
    store: str = "seeded"
    env: tuple[tuple[str, str], ...] = ()
    process: str = ""  # "": in this process; "nobody": a real process as an unprivileged user
    contains: str = ""  # a word the message must hold (case-insensitive)
    expect: str = "error"
    writes: bool = False  # the failure keeps something by design (a failed run's record)
    info: tuple[str, ...] = ()  # stderr lines allowed before the error (their prefixes)
    waits_for: str = ""  # the change this row's behaviour comes with, when not yet in

    @property
    def id(self) -> str:
        return f"{self.command} | {self.bad}"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    lines: list[str] = field(default_factory=list)


def seed_template(folder: Path) -> None:
    """A store with something in every place a bad input could point at by mistake: the
    built-in suite, a finished judged benchmark run, a dataset with gold labels and a
    codebook; an endpoints.toml declaring one endpoint that is down; input files."""
    files = folder / "files"
    files.mkdir(parents=True)
    topics = {"1": "tax cut act", "2": "voting rights act", "3": "hospital beds act"}
    (files / "texts.csv").write_text(
        "id,text,gold\n"
        + "".join(f"t{i},{topics[str(i % 3 + 1)]} {i},{i % 3 + 1}\n" for i in range(12))
    )
    (files / "questions.csv").write_text("question,category\nWhat is 2+2?,math\n")
    (files / "text.txt").write_text("The quick brown fox jumps over the lazy dog. " * 40)
    (files / "schema.json").write_text('{"type": "object"}')
    (files / "latin1.txt").write_bytes("café, naïve, Zürich\n".encode("latin-1") * 20)
    (files / "latin1.csv").write_bytes("id,text\nt1,caf\xe9\n".encode("latin-1"))
    (files / "empty.txt").write_bytes(b"")
    (files / "not-json.json").write_text("{not json")
    (files / "folder.csv").mkdir()
    for name in ("unreadable.txt", "unreadable.csv", "unreadable.json", "unreadable.jsonl"):
        shutil.copy(files / ("text.txt" if name.endswith("txt") else "texts.csv"), files / name)
    (files / "unreadable.json").write_text('{"type": "object"}')
    (files / "unreadable.jsonl").write_text('{"question": "Why?", "category": "x"}\n')
    shutil.copy(DATA / "cap_major_topics.csv", files / "codebook.csv")
    shutil.copy(DATA / "malformed.csv", files / "malformed.csv")
    models = models_folder(folder)
    # What a models folder holds besides models: each is listed with why it is not usable.
    (models / "folder.gguf").mkdir()
    (models / "loop.gguf").symlink_to("loop.gguf")
    (models / "broken.gguf").write_text("not a model, whatever its name says")
    (models / "unreadable.gguf").write_bytes(b"GGUF" + bytes(60))
    (folder / "store").mkdir()
    (folder / "store" / "endpoints.toml").write_text(ENDPOINTS_TOML)
    (folder / "out").mkdir()
    (folder / "out" / "existing.csv").write_text("keep me\n")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env_for(folder).items():
            mp.setenv(name, value)
        quiet = io.StringIO()
        with redirect_stdout(quiet), redirect_stderr(quiet):
            steps = [
                ["run", "--suite", "builtin", "--models", "fake-echo,smol", "--judge",
                 "fake-echo", "--limit", "2", "--rounds", "1", "--max-tokens", "16", "--quiet"],
                ["classify", "import", str(files / "texts.csv"), "--name", "bills",
                 "--id-column", "id", "--text-column", "text", "--gold-column", "gold"],
                ["classify", "codebook", str(files / "codebook.csv"), "--name", "topics"],
                ["classify", "run", "--dataset", "bills", "--codebook", "topics", "--models",
                 "fake-echo", "--quiet"],
                ["learn", "probe", "--dataset", "bills", "--codebook", "topics", "--model",
                 "fake-echo", "--source", "gold", "--name", "p", "--quiet"],
            ]  # fmt: skip
            for argv in steps:
                assert main(argv) == 0, (argv, quiet.getvalue())


def env_for(folder: Path, cache: Path | None = None) -> dict[str, str]:
    return {
        "PERFICS_DB": str(folder / STORE),
        "PERFICS_MODELS_DIR": str(folder / "models"),
        "PERFICS_CACHE_DIR": str(cache or folder / "cache"),
        "PERFICS_BACKEND": "fake",
        "PERFICS_FAKE_DELAY_S": "0",
        "PERFICS_LOCK_TIMEOUT_S": "0.3",
        "PERFICS_THREADS": "2",
    }


def seeded_run(folder: Path) -> str:
    return read_store(folder / STORE, "SELECT id FROM runs WHERE kind = 'benchmark'")[0][0]


def fill(argv: tuple[str, ...], folder: Path, run_id: str) -> list[str]:
    values = {
        "tmp": str(folder),
        "store": str(folder / STORE),
        "files": str(folder / "files"),
        "out": str(folder / "out"),
        "run": run_id,
        "missing": str(folder / "no" / "such" / "file.csv"),
    }
    return [arg.format(**values) if "{" in arg else arg for arg in argv]


# -- the store's states -----------------------------------------------------------------------


@dataclass(frozen=True)
class StateOfStore:
    how: str
    env: dict[str, str] = field(default_factory=dict)  # where the CLI finds the store then
    prefix: tuple[str, ...] = ()  # before the command, when only a subprocess can see it
    in_process: bool = True


@contextmanager
def store_state(state: str, folder: Path, locks: LockHolder | None = None):
    """The sandbox's store put in `state` for the duration."""
    db = folder / STORE
    if state == "locked":
        assert locks is not None
        with locks.holding(db):
            yield StateOfStore("held by another process")
    elif state == "corrupt":
        db.write_bytes(b"this is not a DuckDB file, whatever its name says\n" * 4096)
        yield StateOfStore("garbage bytes")
    elif state == "newer schema":
        con = duckdb.connect(str(db))
        con.execute("INSERT INTO schema_version VALUES (999, 'from the future', now())")
        con.close()
        yield StateOfStore("schema version 999")
    elif state == "read-only media":
        with read_only_folder(db.parent) as seen:
            yield StateOfStore(
                seen.how, {"PERFICS_DB": str(seen.path / db.name)}, seen.prefix, seen.in_process
            )
    else:
        yield StateOfStore("as seeded")


class LockHolder:
    """Another process that takes a store's DuckDB write lock when asked, and lets go when
    asked: one process for the whole session instead of one per row."""

    CODE = (
        "import duckdb, sys\n"
        "held = {}\n"
        "for line in sys.stdin:\n"
        "    verb, path = line.rstrip('\\n').split(' ', 1)\n"
        "    if verb == 'lock':\n"
        "        held[path] = duckdb.connect(path)\n"
        "    else:\n"
        "        held.pop(path).close()\n"
        "    print('ok', flush=True)\n"
    )

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, verb: str, path: Path) -> None:
        self.proc.stdin.write(f"{verb} {path}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok", f"the lock holder failed to {verb}"

    @contextmanager
    def holding(self, db: Path):
        self._ask("lock", db)
        try:
            yield
        finally:
            self._ask("unlock", db)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


# -- snapshots --------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    if path.is_symlink():
        return f"-> {os.readlink(path)}"
    if path.is_dir():
        return "dir"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path, with_store: bool = False) -> dict[str, str]:
    """Every file and folder of the sandbox with its content's hash, except the store unless
    asked (its rows are compared instead: DuckDB may rewrite its file, no row changed)."""
    db = folder / STORE
    skip = set() if with_store else {db, db.with_name(db.name + ".wal")}
    found = {}
    for path in sorted(folder.rglob("*")):
        if path not in skip and "cache" not in path.relative_to(folder).parts[:1]:
            found[str(path.relative_to(folder))] = _digest(path)
    return found


def store_rows(folder: Path) -> dict[str, int] | None:
    """Rows per table of the store, or None when it cannot be read (corrupt, absent)."""
    db = folder / STORE
    if not db.exists():
        return None
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
        return dict(con.execute(counts).fetchall())
    finally:
        con.close()


# -- running ----------------------------------------------------------------------------------


def _strict_stream() -> io.TextIOWrapper:
    # As a terminal's stdout under a UTF-8 locale: a lone surrogate cannot be printed.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    return stream.buffer.getvalue().decode("utf-8", "replace")


def _no_waits(monkeypatch) -> None:
    """Endpoint retries without their backoff waits: an endpoint that is down fails at once."""
    from core.engine.endpoint import EndpointBackend

    original = EndpointBackend.__init__

    def quick(self, info, **options):
        original(self, info, **{"sleep": lambda seconds: None, **options})

    monkeypatch.setattr(EndpointBackend, "__init__", quick)


def run_in_process(argv: list[str], monkeypatch, env: dict[str, str]) -> Outcome:
    _no_waits(monkeypatch)
    for name in [k for k in os.environ if k.startswith("PERFICS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = _strict_stream()
    err = io.TextIOWrapper(
        io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    with ExitStack() as stack:
        stack.enter_context(redirect_stdout(out))
        stack.enter_context(redirect_stderr(err))
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - what a real process would print
            import traceback

            traceback.print_exc(file=err)
            code = 1 if not isinstance(exc, KeyboardInterrupt) else 130
    return Outcome(code, _text(out), _text(err))


def run_as_process(
    argv: list[str], env: dict[str, str], folder: Path, user: str = "", prefix=()
) -> Outcome:
    """`perfics ARGV` as a real process; `user="unprivileged"`: one to which file modes apply
    (tests/support.py unprivileged), with the sandbox opened to it."""
    preexec = None
    if user == "unprivileged":
        how, preexec = unprivileged()
        if how == "nobody":
            open_to_everyone(folder)
            for path in folder.rglob("*"):
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o1777)
                elif path.is_file() and not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o666)
    for path in folder.rglob("unreadable*"):
        path.chmod(0)  # as for anyone whom file modes bind
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PERFICS_")}
    done = subprocess.run(
        [*prefix, *CLI, *argv],
        cwd=ROOT,
        env={**full_env, **env},
        capture_output=True,
        preexec_fn=preexec,
        timeout=120,
    )
    return Outcome(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def check(row: Row, outcome: Outcome) -> None:
    """The row's promise: non-zero, no traceback, one error line (or a report on stdout)."""
    shown = f"\n--- stdout\n{outcome.stdout}\n--- stderr\n{outcome.stderr}"
    assert "Traceback" not in outcome.stderr + outcome.stdout, shown
    lines = message_lines(outcome.stderr)
    if row.expect == "listed":
        assert outcome.code == 0 and not lines, shown
        assert row.contains.lower() in outcome.stdout.lower(), shown
        return
    assert outcome.code != 0, f"exit status 0{shown}"
    if row.expect == "report":
        assert lines == [] and "FAILED" in outcome.stdout, shown
        return
    if row.expect == "rows":
        assert lines[0].startswith("error:") and len(lines) >= 3, shown
        assert all(line.startswith("line ") for line in lines[1:-1]), shown
        return
    before = [line for line in lines[:-1] if not (row.info and line.startswith(row.info))]
    assert lines and not before, f"stderr is not one line{shown}"
    assert lines[-1].startswith("error:"), shown
    # A bad input gets a domain error, not the catch-all for a bug.
    assert not lines[-1].startswith("error: unexpected"), shown
    if row.contains:
        assert row.contains.lower() in lines[-1].lower(), shown
