"""SHA-256 of model files, and a cache of what the registry read from each file, so that a
file is hashed and inspected once: an entry is used while the file's inode, size,
modification time and status-change time are unchanged. The last catches a rewrite that
keeps the size and puts the old modification time back (`touch -d`, os.utime, a copy tool
preserving times): setting any time, or writing, moves ctime, which no user can set. What
the key still cannot see (a clock set back, a network file system) the full hash at run start
catches (core/engine/registry.py: current_file)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.types import ModelInfo

log = logging.getLogger(__name__)

CACHE_FILE = "models.json"
_HASH_BLOCK = 4 * 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _stat_key(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


class FileCache:
    """JSON file of ModelInfo fields keyed by absolute path; stale when the file's stat key
    (inode, size, mtime, ctime) changes."""

    def __init__(self, cache_dir: Path | None):
        self.file = cache_dir / CACHE_FILE if cache_dir else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if self.file and self.file.exists():
            try:
                self.entries = json.loads(self.file.read_text())
            except (OSError, ValueError):
                log.warning("ignoring unreadable model cache %s", self.file)

    def get(self, path: Path, stat: os.stat_result) -> ModelInfo | None:
        entry = self.entries.get(str(path.resolve()))
        if not entry or entry.get("key") != _stat_key(stat):
            return None  # also an entry from a version keyed on size and mtime alone
        fields = dict(entry["info"])
        fields["path"] = path
        try:
            return ModelInfo(**fields)
        except TypeError:  # written by a version with other fields: read the file again
            return None

    def put(self, path: Path, stat: os.stat_result, info: ModelInfo) -> None:
        fields = asdict(info)
        fields["path"] = str(path)
        self.entries[str(path.resolve())] = {"key": _stat_key(stat), "info": fields}
        self.dirty = True

    def forget(self, path: Path) -> None:
        """Drops the file's entry: its content was found to differ from what the entry says."""
        if self.entries.pop(str(path.resolve()), None) is not None:
            self.dirty = True

    def save(self) -> None:
        if not (self.file and self.dirty):
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.entries, indent=1))
            tmp.replace(self.file)
        except OSError as exc:
            # A read-only data folder only costs re-hashing next time.
            log.warning("cannot write model cache %s: %s", self.file, exc)
