"""Use cases of learning from labelled texts, shared by the CLI and the pages: train an
embedding probe, list and delete probes, and code a dataset with a probe as a coding run
(which the Review queue and the Agreement page then show like any model coder).

Probes live under `<data dir>/probes/<name>/` (the data dir holds the results database).
Embedding is the slow part (about 9 short texts a second with SmolLM2 on 2 cores): training
reports progress through `on_progress`, and a probe's coding run is a coding run like any
other, so `start_probe_coding` hands it to the background worker, which can stop and resume it.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from core.app import context, worker
from core.engine.embedding import Embedder, OnProgress, open_embedder
from core.engine.registry import resolve
from core.errors import InvalidRequest, ModelNotFound
from core.evaluation import probe as probes_training
from core.evaluation.linear_probe import (
    LinearProbe,
    check_probe,
    folder_for,
    load_probe,
    read_manifest,
)
from core.evaluation.probe_coding import create_probe_run, run_probe_coding
from core.store import Store
from core.types import ModelInfo, RunStatus
from core.types.learning import ProbeManifest, ProbeResult, ProbeSpec

log = logging.getLogger(__name__)


def probes_dir() -> Path:
    return context.settings().db.parent / "probes"


def default_probe_name(model: str, codebook: str, source: str) -> str:
    """A folder-safe name from the model, codebook and label source."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-{codebook}-{source}").strip("-._")
    return name[:80] or "probe"


def train_probe(
    spec: ProbeSpec, on_progress: OnProgress = None, replace: bool = False
) -> ProbeResult:
    """Embed the labelled texts with the spec's model, fit, measure on the held-out texts and
    save the probe; `on_progress(done, total, eta)` follows the embedding."""
    store = context.store()
    store.init()
    embedder = open_embedder(spec.model, context.settings())
    try:
        return probes_training.train_probe(
            store, spec, embedder, probes_dir(), on_progress, replace
        )
    finally:
        embedder.close()


def probes() -> tuple[ProbeManifest, ...]:
    """Every saved probe, by name; a folder that does not read as a probe is skipped (and
    logged)."""
    folder = probes_dir()
    if not folder.is_dir():
        return ()
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found.append(read_manifest(path))
        except InvalidRequest as exc:
            log.warning("skipping %s: %s", path, exc)
    return tuple(found)


def probe_manifest(name: str) -> ProbeManifest:
    return read_manifest(folder_for(probes_dir(), name))


def delete_probe(name: str) -> None:
    folder = folder_for(probes_dir(), name)
    read_manifest(folder)  # a clear error when there is no such probe
    shutil.rmtree(folder)


def _model_named(name: str) -> ModelInfo | None:
    try:
        return resolve(name, context.list_models())
    except ModelNotFound:
        return None


def checked_probe(name: str) -> tuple[LinearProbe, ProbeManifest, ModelInfo]:
    """The probe, refused when its model file or codebook codes have changed."""
    probe, manifest = load_probe(probes_dir(), name)
    model = _model_named(manifest.model)
    if model is not None and model.name != manifest.model:
        model = None  # a prefix match is another file, not the probe's
    check_probe(manifest, model, context.store().codebooks.get(manifest.codebook))
    return probe, manifest, model


def open_probe(name: str) -> tuple[LinearProbe, ProbeManifest, Embedder]:
    """The checked probe and its model opened for embedding (the caller closes it)."""
    probe, manifest, model = checked_probe(name)
    embedder = open_embedder(model, context.settings())
    if embedder.dim != manifest.embedding_dim:
        embedder.close()
        raise InvalidRequest(
            f"{model.name} gives {embedder.dim}-d embeddings; probe {name!r} expects "
            f"{manifest.embedding_dim}-d."
        )
    return probe, manifest, embedder


def create_probe_coding(name: str, dataset: str, sample: int | None = None, seed: int = 0) -> str:
    """A pending coding run in which probe `name` codes (a seeded sample of) `dataset`."""
    store = context.store()
    store.init()
    probe, manifest, model = checked_probe(name)
    return create_probe_run(store, probe, manifest, model, dataset, sample, seed)


def work_probe_run(store: Store, run_id: str, on_progress: OnProgress = None) -> RunStatus:
    """Work through a probe's coding run in this process (what the worker calls)."""
    return run_probe_coding(store, run_id, open_probe, on_progress)


def probe_code(
    name: str,
    dataset: str,
    sample: int | None = None,
    seed: int = 0,
    on_progress: OnProgress = None,
) -> str:
    """Code the dataset with the probe here and now; returns the coding run's id."""
    run_id = create_probe_coding(name, dataset, sample, seed)
    work_probe_run(context.store(), run_id, on_progress)
    return run_id


def start_probe_coding(name: str, dataset: str, sample: int | None = None, seed: int = 0) -> str:
    """Create the probe's coding run and hand it to a background worker; returns its id."""
    run_id = create_probe_coding(name, dataset, sample, seed)
    worker.launch(run_id)
    return run_id
