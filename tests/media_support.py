"""Read-only and full media for tests, by whatever real mechanism this machine allows.

Tests often run as root, for whom `chmod` changes nothing. So a read-only folder is, in order
of preference: a read-only bind mount (root with CAP_SYS_ADMIN; this process sees it too),
plain permissions (not root; this process too), or permissions enforced on a subprocess that
runs as root with every capability dropped (`setpriv`; only the subprocess sees them). When
none works the test fails, never passes silently. Mounts are always undone in a finally."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import CLI, ROOT

NO_CAPABILITIES = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]


@dataclass(frozen=True)
class ReadOnlyFolder:
    path: Path  # where the folder's files are seen read-only
    how: str
    in_process: bool  # this test process sees it read-only too
    prefix: tuple[str, ...] = ()  # put before a command so that it sees it read-only

    def run_cli(self, *args: str, env: dict | None = None, timeout: float = 300):
        """`perfics ARGS` in a subprocess that sees the folder read-only."""
        return subprocess.run(
            [*self.prefix, *CLI, *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            timeout=timeout,
        )


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True).returncode == 0


def _unmount(where: Path) -> None:
    for _ in range(50):  # a subprocess may still be letting go of a file
        if _run("umount", str(where)):
            return
        time.sleep(0.1)
    _run("umount", "-l", str(where))


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def _bind_read_only(src: Path) -> Iterator[Path | None]:
    where = src.with_name(f"{src.name}-read-only")
    where.mkdir()
    mounted = False
    try:
        mounted = _run("mount", "--bind", str(src), str(where))
        if mounted and not _run("mount", "-o", "remount,bind,ro", str(where)):
            _unmount(where)
            mounted = False
        yield where if mounted else None
    finally:
        if mounted:
            _unmount(where)
        where.rmdir()


def _unwritable_without_capabilities(folder: Path) -> bool:
    if shutil.which("setpriv") is None:
        return False
    probe = [*NO_CAPABILITIES, "sh", "-c", 'test ! -w "$0"', str(folder)]
    return subprocess.run(probe, capture_output=True).returncode == 0


@contextmanager
def _permissions(src: Path) -> Iterator[None]:
    files = [p for p in src.iterdir() if p.is_file()]
    for p in files:
        p.chmod(0o444)
    src.chmod(0o555)
    try:
        yield
    finally:
        src.chmod(0o755)
        for p in files:
            p.chmod(0o644)


@contextmanager
def read_only_folder(src: Path) -> Iterator[ReadOnlyFolder]:
    """The files of `src` seen read-only, by the best mechanism available here."""
    if can_mount():
        with _bind_read_only(src) as where:
            if where is not None:
                yield ReadOnlyFolder(where, "read-only mount", in_process=True)
                return
    if os.geteuid() != 0:
        with _permissions(src):
            yield ReadOnlyFolder(src, "file permissions", in_process=True)
        return
    with _permissions(src):
        if _unwritable_without_capabilities(src):
            yield ReadOnlyFolder(
                src, "file permissions, capabilities dropped", False, tuple(NO_CAPABILITIES)
            )
            return
    pytest.fail("no way to make a read-only folder here (no mount, running as root, no setpriv)")


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path | None]:
    """A tmpfs of `size` (e.g. "8m") mounted at `where`, or None when this machine cannot
    mount one."""
    where.mkdir(parents=True, exist_ok=True)
    if not can_mount() or not _run(
        "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)
    ):
        yield None
        return
    try:
        yield where
    finally:
        _unmount(where)


def fill_disk(folder: Path) -> Path:
    """Write a file in `folder` until its file system has no space left; returns it."""
    filler = folder / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass
    return filler
