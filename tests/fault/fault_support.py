"""What the fault-injection tests share: the real `perfics` CLI in a subprocess whose progress
bar is followed as it runs (so a kill can be aimed at a phase), a read-only look into the
DuckDB file it writes, and small disks and read-only media made with real mounts where this
machine allows them (root with CAP_SYS_ADMIN), with a named fallback where it does not."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.support import CLI, MODELS_DIR, ROOT, SMOLLM2

PROGRESS = re.compile(r"(\d+)/(\d+)")
# A tqdm bar as drawn: "items:  25%|██▌  | 1/4 [00:01<00:03, ...]" or "items: 0item [00:00, ...]".
TQDM_BAR = re.compile(r"^[^:]+: .*\[\d+:\d\d")
WAIT_GUARD_S = 120  # only a hung CLI ever waits this long


def models_folder(where: Path) -> Path:
    """A models folder holding only SmolLM2 (linked): beside the fake model, a second model
    whose listing is quick (the registry's cache is keyed on the linked file)."""
    folder = where / "models"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{SMOLLM2}.gguf"
    if not link.exists():
        link.symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    return folder


def cli_env(db: Path, cache: Path, models: Path, delay_s: float = 0.0, **extra: str) -> dict:
    """The environment of a `perfics` process on the fake backend, slowed by `delay_s` per
    call so that a run takes long enough to be interrupted part-way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFICS_")}
    env.update(
        PERFICS_DB=str(db),
        PERFICS_CACHE_DIR=str(cache),
        PERFICS_MODELS_DIR=str(models),
        PERFICS_BACKEND="fake",
        PERFICS_FAKE_DELAY_S=str(delay_s),
        PERFICS_THREADS="2",
        **extra,
    )
    return env


class CliProcess:
    """`perfics ARGS` started now; its stderr is read as it comes, so the test can wait for
    the progress bar to reach a count and kill the process at that moment."""

    def __init__(self, args: list[str], env: dict, preexec_fn: Callable[[], None] | None = None):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*CLI, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        self._stderr = bytearray()
        self._changed = threading.Condition()
        self.progress: tuple[int, int] | None = None
        self.progress_times: list[float] = []  # when each new count appeared
        self._readers = [
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        self._stdout = bytearray()
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self._stdout += chunk

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            with self._changed:
                self._stderr += chunk
                counts = PROGRESS.findall(chunk.decode("utf-8", "replace"))
                if counts:
                    latest = tuple(int(n) for n in counts[-1])
                    if latest != self.progress:
                        self.progress = latest
                        self.progress_times.append(time.monotonic())
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def done(self) -> int | None:
        return self.progress[0] if self.progress else None

    def wait_for(self, reached: Callable[[tuple[int, int] | None], bool]) -> bool:
        """Wait until `reached(progress)` holds (True) or the process has ended (False)."""
        deadline = time.monotonic() + WAIT_GUARD_S
        with self._changed:
            while not reached(self.progress):
                if self.proc.poll() is not None and not self._readers[0].is_alive():
                    return False
                if time.monotonic() > deadline:
                    raise AssertionError(f"the CLI made no progress: {self.stderr!r}")
                self._changed.wait(0.05)
        return True

    def kill(self) -> bool:
        """SIGKILL it if it is still running; True when that is what ended it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT_GUARD_S)
        for reader in self._readers:
            reader.join(WAIT_GUARD_S)
        return self.proc.returncode == -signal.SIGKILL

    def finish(self) -> int:
        """Let it run to its end; its exit status."""
        self.proc.wait(WAIT_GUARD_S)
        for reader in self._readers:
            reader.join(WAIT_GUARD_S)
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return self._stdout.decode("utf-8", "replace")


def message_lines(stderr: str) -> list[str]:
    """Stderr as lines a person reads: a tqdm bar's carriage-return redraws dropped."""
    lines = []
    for line in stderr.splitlines():
        shown = line.rsplit("\r", 1)[-1].strip()
        if shown and not TQDM_BAR.match(shown):
            lines.append(shown)
    return lines


def read_store(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows from the store as the next process will see them (a .wal a killed process left is
    replayed in memory); [] when no store file exists yet."""
    if not db.exists():
        return []
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def has_table(db: Path, table: str) -> bool:
    return bool(
        read_store(db, "SELECT 1 FROM information_schema.tables WHERE table_name = ?", [table])
    )


# -- limits -----------------------------------------------------------------------------------
# Small disks and read-only folders: tests/media_support.py; unprivileged children:
# tests/support.py unprivileged().


def leave_room(filler: Path, room_bytes: int) -> None:
    """Shrink a filler that took all of a disk, so exactly `room_bytes` are free again."""
    os.truncate(filler, max(0, filler.stat().st_size - room_bytes))


def file_size_limit(limit_bytes: int) -> Callable[[], None]:
    """A preexec_fn: files the child writes stop growing at `limit_bytes` (EFBIG), with
    SIGXFSZ ignored so the write fails instead of killing the process."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


def open_to_everyone(folder: Path) -> None:
    """Let an unprivileged child reach `folder` and write there: it and its parents
    traversable, itself writable (the sticky /tmp-like mode)."""
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o111)
    folder.chmod(0o1777)
