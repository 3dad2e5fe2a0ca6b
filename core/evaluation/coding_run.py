"""Coding runs: any number of models code (a seeded sample of) a dataset with a codebook.

A unit is one model and one text, model by model so each model is loaded once; units of
endpoint coders run several at once (core/evaluation/concurrent.py). Runs share
the benchmark's machinery: units stored pending at creation, the background worker, the run
lifecycle (stop, resume, delete), and a unit's outcome and its proposed labels written in
one transaction, so a resumed run never redoes or duplicates a unit.

Few-shot examples: the run draws, once and seeded, an order of the texts that have verified
labels (a reviewer's, rule `one`) or else gold labels the codebook knows; single-label runs
draw only texts with exactly one label. Each text is shown the first k of them that are not
itself, so at most k texts of a run see a different example set and the rest share one
prompt prefix.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from core.errors import EndpointRefusedRequest, GenerationFailed, InvalidRequest
from core.evaluation.benchmark import LoadBackend, OnProgress, check_models
from core.evaluation.coding import PROMPT_VERSION, CodingTask, code_text
from core.evaluation.concurrent import lane_for, work_concurrently
from core.evaluation.lifecycle import RunLifecycle
from core.store import Store
from core.types import ItemKey, ItemKind, ItemOutcome, ModelRef, RunKind, RunStatus, RunUnit
from core.types.classification import Codebook, CodingConfig, CodingSpec, VerifyRule

MAX_SHOTS = 20


def example_pool(store: Store, dataset: str, codebook: Codebook, multi_label: bool) -> dict:
    """Texts usable as few-shot examples: text id -> label codes, verified labels first and
    gold labels (resolved by the codebook) for the rest."""
    labelled: dict[str, tuple[str, ...]] = {}
    leaves = {label.code for label in codebook.leaves}
    for text in store.datasets.texts(dataset):
        codes = tuple(sorted({codebook.resolve(g.code) for g in text.gold} - {None}))
        if codes and set(codes) <= leaves:
            labelled[text.id] = codes
    verified = store.reviews.verified(dataset, codebook.name, VerifyRule.ONE)
    for text_id, labels in zip(verified.text_id, verified.labels, strict=True):
        if len(labels) and set(labels) <= leaves:
            labelled[text_id] = tuple(sorted(labels))
    if not multi_label:
        labelled = {tid: codes for tid, codes in labelled.items() if len(codes) == 1}
    return labelled


def draw_examples(
    pool: Mapping[str, tuple[str, ...]], count: int, seed: int | str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`count` (text id, label codes) of the pool, seeded: the first of a seeded shuffle of
    the sorted ids. Restrict the pool to restrict the examples (a learning curve passes only
    its n training texts)."""
    order = sorted(pool)
    random.Random(seed).shuffle(order)
    return tuple((tid, tuple(pool[tid])) for tid in order[:count])


def plan_coding(
    store: Store, spec: CodingSpec, llama_cpp_version: str = ""
) -> tuple[CodingConfig, list[RunUnit]]:
    """The run `spec` asks for, checked, with its units; nothing is stored."""
    if not spec.models:
        raise InvalidRequest("Choose at least one model.")
    if len({m.name for m in spec.models}) != len(spec.models):
        raise InvalidRequest("The same model is listed twice.")
    if spec.dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {spec.dataset!r}; import it first.")
    if spec.codebook not in store.codebooks.names():
        raise InvalidRequest(f"No codebook named {spec.codebook!r}; import or write it first.")
    if not 0 <= spec.shots <= MAX_SHOTS:
        raise InvalidRequest(f"Shots must be between 0 and {MAX_SHOTS}; got {spec.shots}.")
    if spec.intensities and not spec.multi_label:
        raise InvalidRequest("Intensities are rated in multi-label coding only.")
    codebook = store.codebooks.get(spec.codebook)
    if len(codebook.leaves) < 2:
        raise InvalidRequest(
            f"Codebook {spec.codebook!r} needs at least two labels to choose from."
        )
    ids = store.datasets.text_ids(spec.dataset)
    if spec.sample is not None:
        if spec.sample < 1:
            raise InvalidRequest(f"A sample needs at least one text; got {spec.sample}.")
        chosen = set(random.Random(spec.seed).sample(ids, min(spec.sample, len(ids))))
        ids = [i for i in ids if i in chosen]
    examples: tuple = ()
    if spec.shots:
        pool = example_pool(store, spec.dataset, codebook, spec.multi_label)
        if len(pool) < spec.shots + 1:
            raise InvalidRequest(
                f"{spec.shots}-shot coding needs at least {spec.shots + 1} texts with verified "
                f"or gold labels of this codebook; dataset {spec.dataset!r} has {len(pool)}."
            )
        examples = draw_examples(pool, spec.shots + 1, spec.seed)
    config = CodingConfig(
        dataset=spec.dataset,
        codebook=spec.codebook,
        text_ids=tuple(ids),
        models=tuple(ModelRef.of(m) for m in spec.models),
        shots=spec.shots,
        multi_label=spec.multi_label,
        intensities=spec.intensities,
        sample=spec.sample,
        seed=spec.seed,
        examples=examples,
        prompt_version=PROMPT_VERSION,
        llama_cpp_version=llama_cpp_version,
    )
    keys = [ItemKey(ItemKind.CODE, tid, model) for model in config.model_names for tid in ids]
    return config, [RunUnit(no, key, "") for no, key in enumerate(keys)]


def create_coding_run(store: Store, spec: CodingSpec, llama_cpp_version: str) -> str:
    config, units = plan_coding(store, spec, llama_cpp_version)
    for info in spec.models:
        store.models.upsert(info)
    return RunLifecycle.create(store, RunKind.CODING, config, units).id


def task_for(store: Store, config: CodingConfig, text_id: str) -> CodingTask:
    """The task as `text_id` sees it: the run's first k examples that are not itself."""
    codebook = store.codebooks.get(config.codebook)
    chosen = [(tid, codes) for tid, codes in config.examples if tid != text_id][: config.shots]
    texts = {t.id: t.text for t in store.datasets.texts(config.dataset, [t for t, _ in chosen])}
    return CodingTask(
        codebook=codebook,
        multi_label=config.multi_label,
        intensities=config.intensities,
        examples=tuple((texts[tid], codes) for tid, codes in chosen),
        seed=config.seed,
    )


class _Tasks:
    """The run's task per text, built once for the shared example set."""

    def __init__(self, store: Store, config: CodingConfig):
        self.store, self.config = store, config
        self.shared = task_for(store, config, "")
        self.own = {tid for tid, _ in config.examples}

    def __call__(self, text_id: str) -> CodingTask:
        if text_id in self.own:
            return task_for(self.store, self.config, text_id)
        return self.shared


def run_texts(store: Store, config: CodingConfig) -> dict[str, str]:
    """The texts of a coding run by id; refused when the dataset has lost any of them."""
    texts = {t.id: t.text for t in store.datasets.texts(config.dataset)}
    missing = set(config.text_ids) - set(texts)
    if missing:
        raise InvalidRequest(
            f"Dataset {config.dataset!r} no longer has text(s) {sorted(missing)[:5]}; "
            "this run cannot be resumed."
        )
    return texts


def run_coding(
    store: Store, run_id: str, load: LoadBackend, on_progress: OnProgress = None
) -> RunStatus:
    """Code (or resume coding) every pending unit of a coding run."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.CODING:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a coding run.")
    config: CodingConfig = record.config
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()
        texts = run_texts(store, config)
        check_models(config.models, load)
        tasks = _Tasks(store, config)
        # Loaded here, on this thread: units of endpoint coders run on several threads at once.
        backends = {ref.name: load(ref.name) for ref in config.models}

        def code(unit: RunUnit) -> None:
            backend = backends[unit.key.model]
            sha = backend.info.sha256
            try:
                coding, seconds = code_text(
                    backend, tasks(unit.key.question_id), texts[unit.key.question_id]
                )
            except (GenerationFailed, InvalidRequest, EndpointRefusedRequest) as exc:
                # This text only, e.g. too long; any other EndpointError stops the run resumable.
                store.codings.finish(run_id, unit.no, ItemOutcome("failed", None, str(exc), sha))
                return
            outcome = ItemOutcome("done", seconds, model_sha256=sha, final=coding.raw)
            store.codings.finish(run_id, unit.no, outcome, coding)

        lane = {name: lane_for(backend.info) for name, backend in backends.items()}
        work_concurrently(run, code, lambda unit: lane[unit.key.model], on_progress=on_progress)
        run.complete()
    return RunStatus.COMPLETED
