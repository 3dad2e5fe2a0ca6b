"""LoRA adapters on disk: `<models>/adapters/<name>/` holds adapter.gguf and manifest.json
(core/types/finetune.py), which the registry lists as "<base>+<name>".

A finished run builds the whole folder as a hidden sibling (`.<name>.partial-<run>`) and
renames it into place, so the registry never sees an adapter without its manifest or half a
file; an adapter replaced on request is renamed aside first and removed after.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from core.engine.adapters import read_manifest
from core.errors import InvalidRequest
from core.types.agreement import MetricValue
from core.types.finetune import ADAPTER_FILE, ADAPTER_SEPARATOR, MANIFEST_FILE, AdapterManifest
from core.types.learning import PROBE_HEADLINE_METRICS

# Names travel in model names ("<base>+<name>"), comma-separated model lists and paths.
ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def check_adapter_name(name: str) -> str:
    if not ADAPTER_NAME.fullmatch(name or ""):
        raise InvalidRequest(
            f"{name!r} cannot name an adapter: use up to 80 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (no spaces, '/', '{ADAPTER_SEPARATOR}' or ',')."
        )
    return name


def adapter_folder(adapters_dir: Path, name: str) -> Path:
    return Path(adapters_dir) / check_adapter_name(name)


def read_adapter(folder: Path) -> AdapterManifest:
    """The manifest of the adapter in `folder`, or a clear refusal."""
    if not folder.is_dir():
        raise InvalidRequest(f"No adapter named {folder.name!r} in {folder.parent}.")
    try:
        return read_manifest(folder)
    except ValueError as exc:
        raise InvalidRequest(f"Adapter {folder.name!r}: {exc}") from exc


def list_adapters(adapters_dir: Path) -> list[tuple[Path, AdapterManifest | None, str | None]]:
    """(folder, manifest or None, why it is unreadable) for each adapter folder, by name."""
    root = Path(adapters_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found.append((folder, read_adapter(folder), None))
        except InvalidRequest as exc:
            found.append((folder, None, str(exc)))
    return found


def write_adapter_folder(
    adapters_dir: Path,
    manifest: AdapterManifest,
    write_gguf: Callable[[Path], None],
    replace: bool,
) -> Path:
    """Build `<adapters_dir>/<name>/` with write_gguf(path of adapter.gguf) and the manifest,
    then move it into place; an existing adapter is refused unless `replace`."""
    final = adapter_folder(adapters_dir, manifest.name)
    partial = final.with_name(f".{final.name}.partial-{manifest.run_id}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        write_gguf(partial / ADAPTER_FILE)
        text = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False)
        (partial / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
        if final.exists():
            if not replace:
                raise InvalidRequest(
                    f"An adapter named {manifest.name!r} exists already; choose another name "
                    "or replace it."
                )
            aside = final.with_name(f".{final.name}.replaced-{manifest.run_id}")
            shutil.rmtree(aside, ignore_errors=True)
            final.rename(aside)
            partial.rename(final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def record_metrics(adapters_dir: Path, name: str, metrics: dict[str, MetricValue]) -> None:
    """Keep an adapter's held-out metrics in its manifest (a temporary file, then a rename);
    only the headline figures, as a probe's manifest keeps them."""
    folder = adapter_folder(adapters_dir, name)
    manifest = read_adapter(folder)
    kept = {k: v for k, v in metrics.items() if k in PROBE_HEADLINE_METRICS}
    text = json.dumps(replace(manifest, metrics=kept).to_json(), indent=2, ensure_ascii=False)
    partial = folder / f".{MANIFEST_FILE}.partial"
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(folder / MANIFEST_FILE)


def delete_adapter(adapters_dir: Path, name: str) -> None:
    folder = adapter_folder(adapters_dir, name)
    if not folder.is_dir():
        raise InvalidRequest(f"No adapter named {name!r} in {Path(adapters_dir)}.")
    shutil.rmtree(folder)
