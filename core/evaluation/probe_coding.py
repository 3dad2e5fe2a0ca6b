"""Coding a dataset with a saved probe, stored as an ordinary coding run so that the Review
queue (ordered by lowest confidence first, it puts the probe's least certain texts first),
the Agreement page and the metrics see it beside the LLM coders.

A probe's coding run is a CodingConfig whose one model is the probe's coder name
("probe:<name>", with the base model's sha256) and whose prompt_version is
"probe:<name>:<fingerprint>", the fingerprint being a hash of the probe's weights: a run
resumed after the probe was trained again under the same name is refused rather than mixing
two probes' labels. Shots are 0 and there are no examples. Each unit stores the proposed
labels with the probe's probability as confidence, the seconds to embed and classify the text,
and its token count as prompt tokens.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable

from core.engine.embedding import Embedder, OnProgress
from core.errors import InvalidRequest
from core.evaluation.coding_run import run_texts
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.linear_probe import LinearProbe
from core.store import Store
from core.types import (
    ItemKey,
    ItemKind,
    ItemOutcome,
    ModelInfo,
    ModelRef,
    RunKind,
    RunStatus,
    RunUnit,
)
from core.types.classification import Coding, CodingConfig
from core.types.learning import ProbeManifest

PROBE_PREFIX = "probe:"
# A probe by name, checked against its model file and codebook, with its model's embedder.
OpenProbe = Callable[[str], tuple[LinearProbe, ProbeManifest, Embedder]]


def fingerprint(probe: LinearProbe) -> str:
    digest = hashlib.sha256()
    for part in (probe.coef, probe.intercept):
        digest.update(part.astype("<f8").tobytes())
    digest.update("\n".join(probe.classes).encode("utf-8"))
    return digest.hexdigest()[:16]


def probe_version(manifest: ProbeManifest, probe: LinearProbe) -> str:
    return f"{PROBE_PREFIX}{manifest.name}:{fingerprint(probe)}"


def is_probe_run(config: object) -> bool:
    return isinstance(config, CodingConfig) and config.prompt_version.startswith(PROBE_PREFIX)


def probe_of(config: CodingConfig) -> tuple[str, str]:
    """(probe name, weights fingerprint) a probe coding run was created with."""
    name, _, expected = config.prompt_version.removeprefix(PROBE_PREFIX).partition(":")
    return name, expected


def create_probe_run(
    store: Store,
    probe: LinearProbe,
    manifest: ProbeManifest,
    base: ModelInfo,
    dataset: str,
    sample: int | None = None,
    seed: int = 0,
) -> str:
    """A pending coding run in which the probe codes (a seeded sample of) the dataset."""
    if dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {dataset!r}; import it first.")
    ids = store.datasets.text_ids(dataset)
    if sample is not None:
        if sample < 1:
            raise InvalidRequest(f"A sample needs at least one text; got {sample}.")
        chosen = set(random.Random(seed).sample(ids, min(sample, len(ids))))
        ids = [i for i in ids if i in chosen]
    if not ids:
        raise InvalidRequest(f"Dataset {dataset!r} has no texts.")
    coder = manifest.coder_name
    config = CodingConfig(
        dataset=dataset,
        codebook=manifest.codebook,
        text_ids=tuple(ids),
        models=(ModelRef(coder, manifest.model_sha256, base.quantization),),
        shots=0,
        multi_label=manifest.multi_label,
        intensities=False,
        sample=sample,
        seed=seed,
        examples=(),
        prompt_version=probe_version(manifest, probe),
    )
    units = [RunUnit(no, ItemKey(ItemKind.CODE, tid, coder), "") for no, tid in enumerate(ids)]
    store.models.upsert(base)  # so the run's coder has the base model's size on the charts
    return RunLifecycle.create(store, RunKind.CODING, config, units).id


def run_probe_coding(
    store: Store, run_id: str, open_probe: OpenProbe, on_progress: OnProgress = None
) -> RunStatus:
    """Code (or resume coding) every pending text of a probe's coding run."""
    record = store.runs.get(run_id)
    if not is_probe_run(record.config):
        raise InvalidRequest(f"Run {run_id} is not a probe's coding run.")
    config: CodingConfig = record.config
    name, expected = probe_of(config)
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()
        texts = run_texts(store, config)
        probe, manifest, embedder = open_probe(name)
        if fingerprint(probe) != expected:
            raise InvalidRequest(
                f"Probe {name!r} has been trained again since run {run_id} started; start a "
                "new coding run with it."
            )
        names = {c.code: c.name for c in store.codebooks.get(config.codebook).labels}

        def code(unit: RunUnit) -> None:
            text_id = unit.key.question_id
            started = time.perf_counter()
            try:
                vector = embedder.embed([texts[text_id]], names=[text_id])
            except InvalidRequest as exc:  # this text only: empty or too long
                outcome = ItemOutcome("failed", None, str(exc), manifest.model_sha256)
                store.codings.finish(run_id, unit.no, outcome)
                return
            (labels,) = probe.propose(vector)
            seconds = time.perf_counter() - started
            raw = "; ".join(names.get(p.code, p.code) for p in labels)
            coding = Coding(labels, raw, embedder.tokens(texts[text_id]))
            outcome = ItemOutcome("done", seconds, model_sha256=manifest.model_sha256, final=raw)
            store.codings.finish(run_id, unit.no, outcome, coding)

        try:
            run.work_through(code, on_progress)
        finally:
            embedder.close()
        run.complete()
    return RunStatus.COMPLETED
