"""Untargeted self-refinement: answer, critique the answer, rewrite it; repeat for N rounds.

After "Democratizing LLMs: An Exploration of Cost-Performance Trade-offs in Self-Refined
Open-Source Models" (Findings of EMNLP 2023). The model gets no rubric and no outside help.
All steps share one growing conversation, so the engine reuses the KV cache for the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from core.engine import Backend
from core.engine.prompts import check_prompt
from core.errors import GenerationFailed, InvalidRequest, PerficsError, PromptTooLong
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.templates import DEFAULTS, VERDICT_GRAMMAR
from core.store import Store
from core.types import (
    ModelRef,
    PromptTemplate,
    RefineConfig,
    RefineOutcome,
    RefineRequest,
    RefineResult,
    RefineStep,
    RunKind,
    SamplerSettings,
    StopReason,
)

MAX_ROUNDS = 5
DEFAULT_ROUNDS = 2

OnStep = Callable[[RefineStep], None] | None
OnToken = Callable[[int, str, str], None] | None  # (round, kind, text piece)


class ModelSwitched(GenerationFailed):
    """A step was answered by a different model than the one the run started with."""


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def check_rounds(rounds: int) -> None:
    if not 0 <= rounds <= MAX_ROUNDS:
        raise InvalidRequest(f"rounds must be between 0 and {MAX_ROUNDS}, got {rounds}")


def prepare(
    prompt: str,
    rounds: int,
    settings: SamplerSettings | None,
    templates: dict[str, PromptTemplate] | None,
) -> tuple[SamplerSettings, dict[str, PromptTemplate]]:
    """Validate a refinement request; fill in default settings and templates."""
    check_prompt(prompt)
    check_rounds(rounds)
    return settings or SamplerSettings(), {**DEFAULTS, **(templates or {})}


def refine(
    backend: Backend,
    prompt: str,
    rounds: int = DEFAULT_ROUNDS,
    settings: SamplerSettings | None = None,
    on_step: OnStep = None,
    on_token: OnToken = None,
    templates: dict[str, PromptTemplate] | None = None,
    stop_early: bool = True,
) -> RefineResult:
    """Baseline, then (critique -> verdict -> refined) x rounds, stopping early when the
    verdict finds nothing to fix or a rewrite changes nothing. With stop_early=False it is the
    paper's fixed protocol: (critique -> refined) x rounds, no verdict step, and only a full
    context ends it early. Pure: persistence happens in on_step (see run_refinement and the
    benchmark runner)."""
    settings, templates = prepare(prompt, rounds, settings, templates)
    verdict_settings = replace(
        settings, temperature=0.0, max_tokens=2, stop=(), grammar=VERDICT_GRAMMAR
    )
    model_sha = backend.info.sha256
    messages = [{"role": "user", "content": prompt.strip()}]
    steps: list[RefineStep] = []

    def step(round_no: int, kind: str, step_settings: SamplerSettings) -> RefineStep:
        previous = steps[-1].generation if steps else None
        stream = (lambda piece: on_token(round_no, kind, piece)) if on_token else None
        gen = backend.chat(messages, step_settings, stream)
        if gen.model_sha256 != model_sha:
            raise ModelSwitched(
                f"step {kind} of round {round_no} was answered by {gen.model_name}, "
                f"not the model the run started with"
            )
        if (
            kind != "baseline"
            and gen.finish_reason == "length"
            and (gen.completion_tokens < step_settings.max_tokens)
        ):
            # Cut short by the context, not by max_tokens: a stub, not an answer.
            raise PromptTooLong(gen.prompt_tokens + gen.completion_tokens, gen.prompt_tokens)
        prefix = previous.prompt_tokens + previous.completion_tokens if previous else 0
        done = RefineStep(round_no, kind, gen.text.strip(), gen, prefix)
        steps.append(done)
        messages.append({"role": "assistant", "content": done.text})
        if on_step:
            on_step(done)
        return done

    def ask(template_kind: str) -> None:
        messages.append({"role": "user", "content": templates[template_kind].text})

    answer = step(0, "baseline", settings)
    stop_reason = StopReason.ROUNDS_COMPLETED
    try:
        for round_no in range(1, rounds + 1):
            ask("critique")
            step(round_no, "critique", settings)
            if stop_early:
                ask("verdict")
                if step(round_no, "verdict", verdict_settings).text == "no":
                    stop_reason = StopReason.NO_ISSUES_FOUND
                    break
            ask("refine")
            refined = step(round_no, "refined", settings)
            if stop_early and _same(refined.text, answer.text):
                stop_reason = StopReason.UNCHANGED_ANSWER
                break
            answer = refined
    except PromptTooLong:
        stop_reason = StopReason.CONTEXT_FULL
    return RefineResult(prompt, rounds, tuple(steps), stop_reason, templates)


def run_refinement(
    store: Store,
    backend: Backend,
    request: RefineRequest,
    on_step: OnStep = None,
    on_token: OnToken = None,
    on_start: Callable[[str], None] | None = None,
) -> RefineOutcome:
    """refine() as a stored run: every step is saved as it completes. Returns the run id with
    the result or with the error that ended it; a failed run keeps its finished steps. A
    refused request (empty prompt, bad rounds) raises before any run exists. on_start gets
    the run id once the run is claimed."""
    prompt, rounds = request.prompt, request.rounds
    settings, templates = prepare(prompt, rounds, request.settings, request.templates)
    store.models.upsert(backend.info)
    config = RefineConfig(
        prompt,
        rounds,
        ModelRef.of(backend.info),
        settings,
        templates,
        backend.version,
        stop_early=request.stop_early,
    )
    run = RunLifecycle.create(store, RunKind.REFINE, config, total_units=1)
    stored = 0

    def persist(done: RefineStep) -> None:
        nonlocal stored
        store.generations.save_step(run.id, done, stored)
        stored += 1
        if on_step:
            on_step(done)

    try:
        with run.working():
            if on_start:
                on_start(run.id)
            result = refine(
                backend, prompt, rounds, settings, persist, on_token, templates, request.stop_early
            )
            run.complete(result.stop_reason)
    except PerficsError as exc:
        return RefineOutcome(run.id, None, exc)
    return RefineOutcome(run.id, result)
