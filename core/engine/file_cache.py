"""SHA-256 of model files, and a cache of what the registry read from each file, so that a
file is hashed and inspected once: an entry is used while the file's size and modification
time are unchanged."""

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


class FileCache:
    """JSON file of ModelInfo fields keyed by absolute path; stale when size or mtime change."""

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
        if not entry or entry["size"] != stat.st_size or entry["mtime_ns"] != stat.st_mtime_ns:
            return None
        fields = dict(entry["info"])
        fields["path"] = path
        try:
            return ModelInfo(**fields)
        except TypeError:  # written by a version with other fields: read the file again
            return None

    def put(self, path: Path, stat: os.stat_result, info: ModelInfo) -> None:
        fields = asdict(info)
        fields["path"] = str(path)
        self.entries[str(path.resolve())] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "info": fields,
        }
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
