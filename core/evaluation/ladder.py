"""The quantization ladder: a source model quantized to several types, and every rung (the
source included) measured the same way on the same text: file size and tensor types, resident
memory, prompt and generation speed, perplexity, and KL divergence and same-top-token share
against the source.

A ladder is a run (kind "ladder") in the background worker. Its units come in two stages:
writing each missing copy, then measuring each model. A unit is done or pending, so a stopped
ladder resumes where it stopped; a copy already on disk is never rewritten.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

from core.engine.footprint import measure_footprint
from core.engine.gguf_tensors import type_counts
from core.engine.quantize import check_requantize, copy_path, is_quantized, quantize
from core.engine.registry import resolve
from core.errors import GenerationFailed, InvalidRequest, UnusableModel
from core.evaluation.benchmark import OnProgress
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.likelihood import measure_of, score_question
from core.evaluation.stats import Estimate, mean_ci, wilson_ci
from core.store import Store
from core.types import (
    ItemKey,
    ItemKind,
    ItemOutcome,
    ModelInfo,
    RunKind,
    RunStatus,
    RunUnit,
    SamplerSettings,
)
from core.types.token_level import KlDivergence, LadderConfig, LadderRung

SOURCE = "source"  # the qtype recorded for the source model itself
# Speed: a greedy completion of the text's first ~chunk (English runs ~4 characters a token),
# with enough generated tokens for a steady rate.
SPEED_PROMPT_CHARS_PER_TOKEN = 4
SPEED_TOKENS = 64
SPEED_REPEATS = 3

ListModels = Callable[[], list[ModelInfo]]
OpenModel = Callable[[ModelInfo], object]


def plan_units(source: ModelInfo, config: LadderConfig) -> list[RunUnit]:
    """Copies to write (those not on disk yet), then the source and every copy to measure."""
    units: list[RunUnit] = []
    for qtype in config.types:
        if not copy_path(source.path, qtype).is_file():
            units.append(RunUnit(len(units), ItemKey(ItemKind.QUANTIZE, qtype, source.name), ""))
    rungs = [(SOURCE, source.name)] + [
        (qtype, copy_path(source.path, qtype).stem) for qtype in config.types
    ]
    for qtype, name in rungs:
        units.append(RunUnit(len(units), ItemKey(ItemKind.LADDER_RUNG, qtype, name), ""))
    return units


def create_ladder(store: Store, source: ModelInfo, config: LadderConfig) -> str:
    check_requantize(source.path, config.allow_requantize)
    run = RunLifecycle.create(store, RunKind.LADDER, config, plan_units(source, config))
    return run.id


def speeds(backend, text: str, n_ctx: int) -> tuple[float | None, float | None, int]:
    """(prompt tokens/s, generation tokens/s, tokens generated), each the median of
    SPEED_REPEATS greedy completions whose prompt is about one chunk of the text: prompt speed
    on a batch the size perplexity uses, generation one token at a time after it. The median,
    because one completion can be slowed by anything else the machine is doing."""
    settings = SamplerSettings(temperature=0.0, max_tokens=SPEED_TOKENS, seed=42)
    prompt = text[: SPEED_PROMPT_CHARS_PER_TOKEN * n_ctx]
    prompt_speeds, gen_speeds, produced = [], [], 0
    reset = getattr(backend, "reset_cache", None)
    for _ in range(SPEED_REPEATS):
        if reset:
            reset()  # else the repeats reuse the cached prompt and time one token
        generation = backend.complete(prompt, settings)
        if generation.ttft_s and generation.prompt_tokens_evaluated:
            prompt_speeds.append(generation.prompt_tokens_evaluated / generation.ttft_s)
        if generation.gen_tokens_per_s:
            gen_speeds.append(generation.gen_tokens_per_s)
        produced = generation.completion_tokens
    return _median(prompt_speeds), _median(gen_speeds), produced


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def question_score(question, scores) -> float:
    """One question's likelihood quality: for multiple choice, 1 when the right choice has
    the highest log-probability per character (acc_norm; ties to the earlier choice), else 0;
    for a reference answer, 2^-bits per byte = exp(logprob / bytes)."""
    if not question.choices:
        return math.exp(scores[0].logprob / scores[0].n_bytes)
    best = max(scores, key=lambda c: (c.logprob / max(c.n_chars, 1), -c.choice))
    return 1.0 if best.is_answer else 0.0


def likelihood_quality(backend, questions) -> Estimate:
    """The mean question score with a 95 % interval: Wilson's when every question is multiple
    choice (the scores are then 0/1), a seeded bootstrap otherwise."""
    values = [question_score(q, score_question(backend, q)) for q in questions]
    if values and all(q.choices for q in questions):
        return wilson_ci(int(sum(values)), len(values))
    return mean_ci(values)


def measure(
    backend, source_backend, qtype: str, config: LadderConfig, threads: int, questions=()
) -> LadderRung:
    """One rung's figures. A copy's perplexity comes from the KLD pass, which scores the
    same positions; the source is measured against nothing (its KLD is not defined)."""
    info = backend.info
    kld: KlDivergence | None = None
    if qtype == SOURCE:
        own = backend.corpus_perplexity(config.text, config.n_ctx)
        ppl, ppl_unc, positions = own.perplexity, own.uncertainty, own.tokens_scored
    else:
        kld = backend.kl_divergence(source_backend, config.text, config.n_ctx)
        ppl, ppl_unc, positions = kld.ppl, kld.ppl_uncertainty, kld.positions
    prompt_speed, gen_speed, gen_tokens = speeds(backend, config.text, config.n_ctx)
    quality = likelihood_quality(backend, questions) if questions else None
    return LadderRung(
        model_name=info.name,
        qtype=qtype,
        file_bytes=info.path.stat().st_size,
        tensor_types=type_counts(info.path),
        requantized=qtype != SOURCE and is_quantized(source_backend.info.path),
        memory_mb=measure_footprint(info.path, backend.n_ctx, threads),
        prompt_tokens_per_s=prompt_speed,
        gen_tokens_per_s=gen_speed,
        gen_tokens=gen_tokens,
        perplexity=ppl,
        perplexity_uncertainty=ppl_unc,
        positions=positions,
        mean_kld=kld.mean_kld if kld else None,
        mean_kld_uncertainty=kld.mean_kld_uncertainty if kld else None,
        kld_p99=kld.kld.at(0.99) if kld else None,
        same_top=kld.same_top if kld else None,
        same_top_uncertainty=kld.same_top_uncertainty if kld else None,
        rms_delta_p=kld.rms_delta_p if kld else None,
        ppl_ratio=kld.ppl_ratio if kld else None,
        quality=quality.value if quality else None,
        quality_low=quality.low if quality else None,
        quality_high=quality.high if quality else None,
        quality_n=quality.n if quality else 0,
    )


def run_ladder(
    store: Store,
    run_id: str,
    list_models: ListModels,
    open_model: OpenModel,
    threads: int,
    on_progress: OnProgress = None,
) -> RunStatus:
    """Write the missing copies, then measure every pending rung (or resume doing so)."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.LADDER:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a quantization ladder.")
    config: LadderConfig = record.config
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()  # stopped while it waited for this worker
        source = resolve(config.source, list_models())
        if config.source_sha256 and source.sha256 and source.sha256 != config.source_sha256:
            raise InvalidRequest(f"{source.name} has changed since the ladder was planned.")
        questions = scorable_questions(store, config.quality_suite)
        loaded = {}  # the source's backend, opened at its first rung and kept for the KLDs

        def step(unit: RunUnit) -> None:
            began = time.perf_counter()
            if unit.key.kind == ItemKind.QUANTIZE:
                _write_copy(source, unit.key.question_id, config, threads)
                outcome = ItemOutcome("done", time.perf_counter() - began)
                store.ladders.finish(run_id, unit.no, outcome)
                return
            if "source" not in loaded:
                loaded["source"] = open_model(source)
            _measure_unit(
                store,
                run_id,
                unit,
                config,
                list_models,
                open_model,
                loaded["source"],
                threads,
                questions,
            )

        try:
            run.work_through(step, on_progress)
        finally:
            if "source" in loaded:
                loaded["source"].close()
        run.complete()
    return RunStatus.COMPLETED


def scorable_questions(store: Store, suite: str | None) -> list:
    """The suite's questions that likelihood can score (choices or a reference answer)."""
    if not suite:
        return []
    return [q for q in store.suites.questions(suite) if measure_of(q) is not None]


def _write_copy(source: ModelInfo, qtype: str, config: LadderConfig, threads: int) -> None:
    if not copy_path(source.path, qtype).is_file():  # written by an earlier attempt
        quantize(source.path, qtype, config.allow_requantize, threads)


def _measure_unit(
    store, run_id, unit, config, list_models, open_model, source_backend, threads, questions
) -> None:
    began = time.perf_counter()
    qtype, name = unit.key.question_id, unit.key.model
    backend = None
    try:
        info = source_backend.info if qtype == SOURCE else resolve(name, list_models())
        backend = source_backend if qtype == SOURCE else open_model(info)
        rung = measure(backend, source_backend, qtype, config, threads, questions)
    except (GenerationFailed, InvalidRequest, UnusableModel) as exc:  # this rung only
        outcome = ItemOutcome("failed", time.perf_counter() - began, str(exc))
        store.ladders.finish(run_id, unit.no, outcome)
        return
    finally:
        if backend is not None and backend is not source_backend:
            backend.close()  # one copy in memory at a time, beside the source
    outcome = ItemOutcome("done", time.perf_counter() - began, model_sha256=info.sha256)
    store.ladders.finish(run_id, unit.no, outcome, rung)
