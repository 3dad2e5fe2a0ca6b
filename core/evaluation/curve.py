"""Learning curves: how well each method of each model codes one fixed set of held-out texts
after learning from n labelled texts, for growing n and seeded repeats (docs/learning.md).

- Split: the labelled texts (verified or gold) are split once, seeded, as a probe's are
  (core/evaluation/probe.split_texts): held-out texts and a training pool. Repeat 0 orders the
  pool as `perfics learn probe --seed S` does; repeat r ≥ 1 is another seeded order of it.
  The n training texts of a repeat are the first n of its order, so within a repeat a smaller
  set is part of every larger one. n = 0 and n = the whole pool are measured once.
- A unit is one point: one method of one model at one n in one repeat. Units run model by
  model (each model loaded once), then by n, so a chart fills in from the left. A point's
  unit and its metric rows are stored in one transaction (core/store/curves.py): a finished
  point is never redone, an interrupted one is done again from its start.
- The methods themselves are in core/evaluation/curve_methods.py.
"""

from __future__ import annotations

import time

import numpy as np

from core.engine.registry import require_local_file
from core.errors import GenerationFailed, InvalidRequest, UnusableModel
from core.evaluation.benchmark import OnProgress
from core.evaluation.coding_run import MAX_SHOTS
from core.evaluation.curve_methods import CurveBench, CurveTools, ModelChanged
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.probe import check_labelled, data_hash, labelled_texts, split_texts
from core.store import Store
from core.store.curves import PointRow
from core.types import ItemKey, ItemKind, ItemOutcome, ModelRef, RunKind, RunStatus, RunUnit
from core.types.agreement import OVERALL_METRICS
from core.types.curves import CurveConfig, CurveMethod, CurvePoint, CurveSpec, PointResult
from core.types.learning import ProbeSpec

MAX_REPEATS = 20

__all__ = ["CurveTools", "create_curve", "plan_curve", "plan_points", "run_curve"]


def _check_spec(spec: CurveSpec) -> None:
    if not spec.models:
        raise InvalidRequest("Choose at least one model.")
    if len({m.name for m in spec.models}) != len(spec.models):
        raise InvalidRequest("The same model is listed twice.")
    if not spec.methods:
        raise InvalidRequest("Choose at least one method: kshot, probe or lora.")
    known = {str(m) for m in CurveMethod}
    unknown = sorted({str(m) for m in spec.methods} - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}."
        )
    if len(set(spec.methods)) != len(spec.methods):
        raise InvalidRequest("The same method is listed twice.")
    if not 1 <= spec.repeats <= MAX_REPEATS:
        raise InvalidRequest(f"Repeats must be between 1 and {MAX_REPEATS}; got {spec.repeats}.")
    if CurveMethod.KSHOT in spec.methods and not 1 <= spec.shots <= MAX_SHOTS:
        raise InvalidRequest(
            f"k of the k-shot method must be between 1 and {MAX_SHOTS}; got {spec.shots} "
            "(n = 0 is the zero-shot point)."
        )
    if any(n < 0 for n in spec.sizes):
        raise InvalidRequest(f"Training sizes cannot be negative; got {list(spec.sizes)}.")
    if not spec.sizes and not spec.include_all:
        raise InvalidRequest("Choose at least one training size.")
    local_methods = {CurveMethod.PROBE: "the probe method", CurveMethod.LORA: "the lora method"}
    for method in (m for m in spec.methods if m in local_methods):
        for model in spec.models:  # embeddings and LoRA training read the model file
            require_local_file(model, local_methods[method])


def resolve_sizes(sizes: tuple[int, ...], pool: int, include_all: bool) -> tuple[int, ...]:
    """The sizes measured: each capped at the pool, the pool itself when `include_all`, once
    each, ascending."""
    return tuple(sorted({min(n, pool) for n in sizes} | ({pool} if include_all else set())))


def _orders(train: tuple[str, ...], repeats: int, seed: int) -> tuple[tuple[str, ...], ...]:
    pool = sorted(train)
    others = (
        tuple(pool[i] for i in np.random.default_rng([seed, r]).permutation(len(pool)))
        for r in range(1, repeats)
    )
    return (tuple(train), *others)


def plan_points(config: CurveConfig) -> list[CurvePoint]:
    """Every point in execution order: model by model, n ascending, method, repeat. A unit's
    point is its place in this list."""
    return [
        CurvePoint(model, n, method, repeat)
        for model in config.model_names
        for n in config.sizes
        for method in config.methods
        for repeat in range(config.repeats_at(n))
    ]


def _unit(no: int, point: CurvePoint) -> RunUnit:
    return RunUnit(no, ItemKey(ItemKind.CURVE_POINT, point.label, point.model), point.method)


def plan_curve(
    store: Store, spec: CurveSpec, threads: int, llama_cpp_version: str = ""
) -> tuple[CurveConfig, list[RunUnit]]:
    """The curve `spec` asks for, checked, with its units; nothing is stored."""
    _check_spec(spec)
    if spec.dataset not in store.datasets.names():
        raise InvalidRequest(f"No dataset named {spec.dataset!r}; import it first.")
    if spec.codebook not in store.codebooks.names():
        raise InvalidRequest(f"No codebook named {spec.codebook!r}; import or write it first.")
    codebook = store.codebooks.get(spec.codebook)
    if len(codebook.leaves) < 2:
        raise InvalidRequest(f"Codebook {spec.codebook!r} needs at least two labels.")
    split_spec = ProbeSpec(
        "curve",
        spec.dataset,
        spec.codebook,
        None,
        spec.source,
        spec.rule,
        spec.seed,
        spec.test_share,
        spec.held_out,
    )
    labelled = labelled_texts(store, spec.dataset, codebook, split_spec)
    try:
        check_labelled(labelled, str(spec.source))
        split = split_texts(labelled, split_spec)
    except InvalidRequest as exc:
        raise InvalidRequest(f"A learning curve splits its texts as a probe does: {exc}") from exc
    orders = _orders(split.train, spec.repeats, spec.seed)
    used = sorted(labelled)
    config = CurveConfig(
        dataset=spec.dataset,
        codebook=spec.codebook,
        source=str(spec.source),
        rule=str(spec.rule),
        models=tuple(ModelRef.of(m) for m in spec.models),
        methods=tuple(str(m) for m in spec.methods),
        sizes=resolve_sizes(tuple(spec.sizes), split.pool, spec.include_all),
        repeats=spec.repeats,
        shots=spec.shots,
        seed=spec.seed,
        multi_label=any(len(codes) != 1 for codes in labelled.values()),
        regularization=spec.regularization,
        held_out_ids=split.held_out,
        orders=orders,
        labels=tuple((tid, tuple(labelled[tid])) for tid in used),
        data_hash=data_hash(labelled),
        threads=threads,
        lora=spec.lora,
        llama_cpp_version=llama_cpp_version,
    )
    return config, [_unit(no, p) for no, p in enumerate(plan_points(config))]


def create_curve(store: Store, spec: CurveSpec, threads: int, llama_cpp_version: str = "") -> str:
    config, units = plan_curve(store, spec, threads, llama_cpp_version)
    for info in spec.models:
        store.models.upsert(info)
    return RunLifecycle.create(store, RunKind.CURVE, config, units).id


def point_rows(point: CurvePoint, result: PointResult) -> list[PointRow]:
    """One row per overall metric; a skipped point's rows have no value and say why."""
    rows = []
    for metric in OVERALL_METRICS:
        value = result.metrics.get(metric)
        rows.append(
            PointRow(
                method=point.method,
                model=point.model,
                n_train=point.n_train,
                repeat=point.repeat,
                metric=metric,
                value=value.value if value else None,
                low=value.low if value else None,
                high=value.high if value else None,
                n_texts=value.n if value else 0,
                train_seconds=result.train_seconds,
                code_seconds=result.code_seconds,
                reason=(value.reason if value else None) or result.skipped,
                coding_run_id=result.coding_run_id,
            )
        )
    return rows


def run_curve(
    store: Store, run_id: str, tools: CurveTools, on_progress: OnProgress = None
) -> RunStatus:
    """Measure (or go on measuring) every pending point of a curve."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.CURVE:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a learning curve.")
    config: CurveConfig = record.config
    points = plan_points(config)
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()
        bench = CurveBench(store, run_id, config, tools, run.check_stop)

        def step(unit: RunUnit) -> None:
            point = points[unit.no]
            if _unit(unit.no, point) != unit:
                raise InvalidRequest(f"Run {run_id}'s units do not match its plan; start anew.")
            began = time.perf_counter()
            try:
                result = bench.measure(point)
            except ModelChanged:
                raise  # the whole curve: its model file is not the one it started with
            except (GenerationFailed, InvalidRequest, UnusableModel) as exc:  # this point only
                outcome = ItemOutcome("failed", time.perf_counter() - began, str(exc))
                store.curves.finish(run_id, unit.no, outcome)
                return
            outcome = ItemOutcome(
                "done",
                time.perf_counter() - began,
                model_sha256=bench.sha256(point.model),
                stop_reason=result.skipped,
            )
            store.curves.finish(run_id, unit.no, outcome, point_rows(point, result))

        try:
            run.work_through(step, on_progress)
        finally:
            bench.close()
        run.complete()
    return RunStatus.COMPLETED
