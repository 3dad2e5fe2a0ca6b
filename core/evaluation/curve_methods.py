"""The methods of a learning curve, each measured on the curve's held-out texts after learning
from the n training texts of one repeat (core/evaluation/curve.py):

- kshot: the workbench's coding prompt (core/evaluation/coding.py) with k examples drawn,
  seeded, from the n training texts only (all of them when n < k; none at n = 0, zero-shot).
  No text is held out and shown, so every held-out text shares one prompt prefix.
- probe: a logistic regression (core/evaluation/linear_probe.py) on the model's embeddings of
  the n texts. Texts are embedded once per model for the whole curve and kept in the curve's
  folder, so a resumed curve does not embed them again. Its training seconds are the n texts'
  share of the embedding time plus the fit; its coding seconds the held-out texts' share plus
  the prediction. n = 0, or training texts of a single label, is skipped with the reason.
- lora: a LoRA adapter trained on the n texts by `CurveTools.train_lora`, then the base model
  with the adapter codes the held-out texts zero-shot. Training seconds are the whole
  training job's.

Held-out texts a model fails to code (too long, say) count as unanswered, as in the
workbench's metrics (core/evaluation/classification_metrics.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.engine import Backend
from core.engine.embedding import Embedder
from core.errors import GenerationFailed, InvalidRequest
from core.evaluation.classification_metrics import model_metrics
from core.evaluation.coding import CodingTask, code_text
from core.evaluation.coding_run import draw_examples
from core.evaluation.linear_probe import fit_probe
from core.store import Store
from core.types import ModelInfo, ModelRef
from core.types.agreement import MetricValue
from core.types.curves import CurveConfig, CurveMethod, CurvePoint, PointResult
from core.types.finetune import ADAPTER_SEPARATOR, AdapterManifest, LoraSettings


class ModelChanged(InvalidRequest):
    """A model file is not the one the curve started with: the whole curve stops."""


@dataclass(frozen=True)
class LoraRequest:
    """What the lora method asks a trainer for: an adapter named `adapter` on `base`, trained
    on exactly these texts and labels with these settings."""

    base: ModelRef
    adapter: str
    dataset: str
    codebook: str
    source: str
    rule: str
    train_ids: tuple[str, ...]
    labels: tuple[tuple[str, tuple[str, ...]], ...]  # (text id, codes) of train_ids
    multi_label: bool
    settings: LoraSettings


TrainLora = Callable[[LoraRequest], AdapterManifest]


@dataclass(frozen=True)
class CurveTools:
    """What the curve needs from the app: models by name (pooled, for k-shot), a model in
    embedding mode (the caller closes it), the folder that keeps embeddings between attempts,
    and, for lora, a trainer and an opener of "<base>+<adapter>" (listed afresh; closed after)."""

    load: Callable[[str], Backend]
    open_embedder: Callable[[str], Embedder]
    cache_dir: Path | None = None
    train_lora: TrainLora | None = None
    open_adapter: Callable[[str], Backend] | None = None
    # Keeps an adapter's held-out metrics in its manifest (adapter name, metrics).
    note_adapter_metrics: Callable[[str, dict[str, MetricValue]], None] | None = None


@dataclass(frozen=True)
class Embeddings:
    ids: tuple[str, ...]
    vectors: np.ndarray
    seconds_per_text: float

    def rows(self, ids) -> np.ndarray:
        where = {tid: i for i, tid in enumerate(self.ids)}
        return self.vectors[[where[t] for t in ids]]


def _skipped(reason: str) -> PointResult:
    return PointResult({}, 0.0, 0.0, skipped=reason)


class CurveBench:
    """The curve's texts, labels and models for one attempt at it, with each model's
    embeddings kept once computed."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        config: CurveConfig,
        tools: CurveTools,
        check_stop: Callable[[], None],
    ):
        self.run_id, self.config, self.tools, self.check_stop = run_id, config, tools, check_stop
        self.codebook = store.codebooks.get(config.codebook)
        self.leaves = [label.code for label in self.codebook.leaves]
        self.labels = config.label_map
        ids = list(self.labels)
        self.texts = {t.id: t.text for t in store.datasets.texts(config.dataset, ids)}
        missing = set(ids) - set(self.texts)
        if missing:
            raise InvalidRequest(
                f"Dataset {config.dataset!r} no longer has text(s) {sorted(missing)[:5]}; "
                "this curve cannot be resumed."
            )
        unknown = {c for codes in self.labels.values() for c in codes} - set(self.leaves)
        if unknown:
            raise InvalidRequest(
                f"Codebook {config.codebook!r} no longer has label(s) {sorted(unknown)}; this "
                "curve cannot be resumed."
            )
        self.reference = {t: frozenset(self.labels[t]) for t in config.held_out_ids}
        self.refs = {m.name: m for m in config.models}
        self._embeddings: dict[str, Embeddings] = {}
        self._sha: dict[str, str | None] = {}

    def measure(self, point: CurvePoint) -> PointResult:
        return METHODS[CurveMethod(point.method)](self, point)

    def sha256(self, model: str) -> str | None:
        return self._sha.get(model, self.refs[model].sha256)

    def check_file(self, info: ModelInfo, model: str) -> None:
        ref = self.refs[model]
        if (info.name, info.sha256) != (ref.name, ref.sha256):
            raise ModelChanged(
                f"Model {ref.name} is not the file this curve started with (SHA-256 "
                f"{(ref.sha256 or '')[:12]}…); restore it to resume the curve."
            )
        self._sha[model] = info.sha256

    def backend(self, model: str) -> Backend:
        backend = self.tools.load(model)
        self.check_file(backend.info, model)
        return backend

    def metrics(self, predicted: dict[str, frozenset[str]], name: str):
        found = model_metrics(
            self.reference, predicted, self.leaves, model=name, multi_label=self.config.multi_label
        )
        return found.overall

    def code_held_out(self, backend: Backend, task: CodingTask) -> tuple[dict, float]:
        """Each held-out text's labels (a text the model fails on is left out: unanswered)
        and the seconds the model spent coding them."""
        predicted: dict[str, frozenset[str]] = {}
        seconds = 0.0
        for text_id in self.config.held_out_ids:
            self.check_stop()
            try:
                coding, spent = code_text(backend, task, self.texts[text_id])
            except (GenerationFailed, InvalidRequest):
                continue
            seconds += spent
            predicted[text_id] = frozenset(p.code for p in coding.labels)
        return predicted, seconds

    def task(self, examples: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> CodingTask:
        return CodingTask(
            self.codebook,
            multi_label=self.config.multi_label,
            examples=tuple((self.texts[tid], codes) for tid, codes in examples),
            seed=self.config.seed,
        )

    def embeddings(self, model: str) -> Embeddings:
        """The model's embeddings of the held-out texts and of every training text some point
        uses, computed once per curve (kept on disk between attempts)."""
        if model in self._embeddings:
            return self._embeddings[model]
        config = self.config
        largest = max(config.sizes)
        needed = sorted(
            set(config.held_out_ids) | {t for order in config.orders for t in order[:largest]}
        )
        ref = self.refs[model]
        path = self._cache_path(model)
        found = _read_cache(path, ref.sha256, needed)
        if found is None:
            embedder = self.tools.open_embedder(model)
            try:
                self.check_file(embedder.info, model)
                started = time.perf_counter()
                vectors = embedder.embed(
                    [self.texts[t] for t in needed],
                    lambda done, total, eta: self.check_stop(),
                    names=needed,
                )
                spent = time.perf_counter() - started
            finally:
                embedder.close()
            found = Embeddings(tuple(needed), vectors, spent / len(needed))
            _write_cache(path, ref.sha256, found)
        self._embeddings[model] = found
        return found

    def _cache_path(self, model: str) -> Path | None:
        if self.tools.cache_dir is None:
            return None
        index = self.config.model_names.index(model)
        return Path(self.tools.cache_dir) / f"embeddings-{index}.npz"

    def adapter_name(self, point: CurvePoint) -> str:
        index = self.config.model_names.index(point.model)
        return f"curve-{self.run_id[:8]}-m{index}-n{point.n_train}-r{point.repeat}"

    def close(self) -> None:
        self._embeddings.clear()


def _read_cache(path: Path | None, sha256: str | None, needed: list[str]) -> Embeddings | None:
    """The kept embeddings when they are of this model file and hold every needed text."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            ids = tuple(str(t) for t in stored["ids"])
            sha = str(stored["sha256"])
            found = Embeddings(ids, stored["vectors"], float(stored["seconds_per_text"]))
    except (OSError, ValueError, KeyError):
        return None  # unreadable: embedded again
    if sha != (sha256 or "") or not set(needed) <= set(ids):
        return None
    return found


def _write_cache(path: Path | None, sha256: str | None, found: Embeddings) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial.npz")
    np.savez(
        partial,
        ids=np.array(found.ids, dtype=str),
        vectors=found.vectors,
        seconds_per_text=np.array(found.seconds_per_text),
        sha256=np.array(sha256 or ""),
    )
    partial.replace(path)


def measure_kshot(bench: CurveBench, point: CurvePoint) -> PointResult:
    config = bench.config
    train = config.training_ids(point.n_train, point.repeat)
    pool = {tid: bench.labels[tid] for tid in train}
    count = min(config.shots, len(train))
    examples = draw_examples(pool, count, f"{config.seed}:{point.repeat}:{point.n_train}")
    backend = bench.backend(point.model)
    predicted, seconds = bench.code_held_out(backend, bench.task(examples))
    return PointResult(bench.metrics(predicted, f"{point.model} · {count}-shot"), 0.0, seconds)


def measure_probe(bench: CurveBench, point: CurvePoint) -> PointResult:
    config = bench.config
    n = point.n_train
    if n == 0:
        return _skipped("no training texts: a probe learns only from labelled texts")
    train = config.training_ids(n, point.repeat)
    labels = [bench.labels[tid] for tid in train]
    codes = {c for codes in labels for c in codes}
    if not config.multi_label and len(codes) < 2:
        return _skipped(f"the {n} training text(s) all have label {min(codes)}; a probe needs two")
    found = bench.embeddings(point.model)
    started = time.perf_counter()
    try:
        probe = fit_probe(found.rows(train), labels, bench.leaves, config.regularization)
    except InvalidRequest as exc:
        return _skipped(str(exc))
    fitted = time.perf_counter()
    held = config.held_out_ids
    proposals = probe.propose(found.rows(held))
    predicted = {
        tid: frozenset(p.code for p in ps) for tid, ps in zip(held, proposals, strict=True)
    }
    predicting = time.perf_counter() - fitted
    return PointResult(
        bench.metrics(predicted, f"probe on {point.model}"),
        train_seconds=found.seconds_per_text * n + (fitted - started),
        code_seconds=found.seconds_per_text * len(held) + predicting,
    )


def measure_lora(bench: CurveBench, point: CurvePoint) -> PointResult:
    config, tools = bench.config, bench.tools
    if point.n_train == 0:
        return _skipped("n = 0 trains nothing: the base model zero-shot is the k-shot n = 0 point")
    if tools.train_lora is None or tools.open_adapter is None:
        raise InvalidRequest("LoRA fine-tuning is not available to learning curves here.")
    train = config.training_ids(point.n_train, point.repeat)
    request = LoraRequest(
        base=bench.refs[point.model],
        adapter=bench.adapter_name(point),
        dataset=config.dataset,
        codebook=config.codebook,
        source=config.source,
        rule=config.rule,
        train_ids=train,
        labels=tuple((tid, bench.labels[tid]) for tid in train),
        multi_label=config.multi_label,
        settings=replace(config.lora, seed=config.lora.seed + point.repeat),
    )
    manifest = tools.train_lora(request)
    name = f"{point.model}{ADAPTER_SEPARATOR}{manifest.name}"
    backend = tools.open_adapter(name)
    try:
        predicted, seconds = bench.code_held_out(backend, bench.task())
    finally:
        if close := getattr(backend, "close", None):
            close()  # one base-and-adapter model in memory at a time
    measured = bench.metrics(predicted, name)
    if tools.note_adapter_metrics:
        tools.note_adapter_metrics(manifest.name, measured)
    return PointResult(measured, manifest.wall_seconds, seconds)


METHODS: dict[CurveMethod, Callable[[CurveBench, CurvePoint], PointResult]] = {
    CurveMethod.KSHOT: measure_kshot,
    CurveMethod.PROBE: measure_probe,
    CurveMethod.LORA: measure_lora,
}
