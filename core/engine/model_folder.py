"""What the models folder holds: the .gguf entries the registry inspects, and every other
path with the reason it is not a model, so that nothing there goes unexplained.

Only entries directly in the folder are models; the adapters/ folder is read by
core/engine/adapters.py; any other subfolder is listed, not searched. A .gguf name that is not
a readable regular file (a folder, a broken or looping link, a named pipe, a file this user
may not read) is still a model entry, listed as unusable with the reason by the registry.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from core.types import SkippedPath
from core.types.finetune import ADAPTERS_FOLDER

MODEL_SUFFIX = ".gguf"
# core/engine/quantize.py writes a copy under this name, then renames it into place.
PARTIAL_SUFFIX = ".gguf.partial"
NOT_A_MODEL = "not a .gguf file — ignored"


@dataclass(frozen=True)
class FolderScan:
    models: tuple[Path, ...]  # every .gguf name, usable or not: the registry says which
    other: tuple[SkippedPath, ...]


def printable(name: str) -> str:
    """A file name as text that can be printed and stored: bytes that are not UTF-8 (which
    Python keeps as lone surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _problem_text(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_problem(path: Path) -> str | None:
    """Why this file cannot be read by this process (permission, an I/O error), or None.
    Opens it and reads its first bytes: cheap, and run on every listing, since a file that
    became unreadable keeps its size and times, and so its cache entry. Non-blocking, so a
    named pipe put in its place cannot hang the listing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.read(fd, 4)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot be read: {_problem_text(exc)}"
    return None


def stat_problem(path: Path, exc: OSError) -> str:
    """Why `path` could not even be looked at: what a failed stat() means to a user."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (the link leads back to itself), not a file"
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"a broken symbolic link: its target {target} does not exist"
    if isinstance(exc, FileNotFoundError):
        return "it was removed while the folder was read"
    return f"cannot be read: {_problem_text(exc)}"


def kind_of(mode: int) -> str:
    """What a non-regular path is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def not_a_file(mode: int) -> str:
    """The reason for a .gguf name that is not a regular file."""
    if stat.S_ISDIR(mode):
        return "a folder, not a GGUF file (folders in the models folder are not searched)"
    return f"{kind_of(mode)}, not a GGUF file"


def _folder_reason(path: Path) -> str:
    reason = f"a folder: subfolders are not searched (only {ADAPTERS_FOLDER}/ is)"
    try:
        ggufs = sum(1 for p in path.iterdir() if p.name.lower().endswith(MODEL_SUFFIX))
    except OSError:
        return reason
    if ggufs:
        reason += f"; move its {ggufs} .gguf file(s) up into the models folder to use them"
    return reason


def _other_reason(path: Path) -> str:
    """Why a path without the .gguf suffix is not a model."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return stat_problem(path, exc)
    if stat.S_ISDIR(mode):
        return _folder_reason(path)
    if path.name.lower().endswith(PARTIAL_SUFFIX):
        return "a quantized copy being written, or left by an interrupted quantization — ignored"
    if not stat.S_ISREG(mode):
        return f"{kind_of(mode)}, {NOT_A_MODEL}"
    return NOT_A_MODEL


def _is_adapters_folder(path: Path) -> bool:
    return path.name == ADAPTERS_FOLDER and path.is_dir()


def scan(models_dir: Path) -> FolderScan:
    """The folder's entries sorted by name: .gguf names as models, the rest with a reason.
    A missing folder holds nothing; an unreadable one is itself the one path listed."""
    try:
        exists, is_folder = models_dir.exists(), models_dir.is_dir()
    except OSError as exc:  # a folder on the way cannot be entered
        reason = f"the models folder cannot be reached: {_problem_text(exc)}"
        return FolderScan((), (SkippedPath(models_dir, printable(str(models_dir)), reason),))
    if not exists:
        return FolderScan((), ())
    if not is_folder:
        reason = "the models folder is not a folder"
        return FolderScan((), (SkippedPath(models_dir, printable(str(models_dir)), reason),))
    try:
        entries = sorted(models_dir.iterdir(), key=lambda p: p.name.lower())
    except OSError as exc:
        reason = f"the models folder cannot be read: {_problem_text(exc)}"
        return FolderScan((), (SkippedPath(models_dir, printable(str(models_dir)), reason),))
    models = tuple(p for p in entries if p.suffix.lower() == MODEL_SUFFIX)
    other = tuple(
        SkippedPath(p, printable(p.name), _other_reason(p))
        for p in entries
        if p.suffix.lower() != MODEL_SUFFIX and not _is_adapters_folder(p)
    )
    return FolderScan(models, other)
