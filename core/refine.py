"""Untargeted self-refinement: answer, critique the answer, rewrite it; repeat for N rounds.

After "Democratizing LLMs: An Exploration of Cost-Performance Trade-offs in Self-Refined
Open-Source Models" (Findings of EMNLP 2023). The model gets no rubric and no outside help.
All steps share one growing conversation, so the engine reuses the KV cache for the prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

from core.engine import Backend, check_prompt
from core.errors import GenerationFailed, InvalidRequest, PromptTooLong
from core.records import Generation, SamplerSettings
from core.templates import DEFAULTS, VERDICT_GRAMMAR, PromptTemplate

if TYPE_CHECKING:
    from core.store import Store

MAX_ROUNDS = 5
DEFAULT_ROUNDS = 2

# Why a refinement ended.
ROUNDS_COMPLETED = "rounds_completed"
NO_ISSUES_FOUND = "no_issues_found"  # the critique's verdict said nothing needs changing
UNCHANGED_ANSWER = "unchanged_answer"  # the rewrite came back the same as the answer before it
CONTEXT_FULL = "context_full"  # the conversation no longer fits the model's context
STOP_REASONS = (ROUNDS_COMPLETED, NO_ISSUES_FOUND, UNCHANGED_ANSWER, CONTEXT_FULL)


class ModelSwitched(GenerationFailed):
    """A step was answered by a different model than the one the run started with."""


@dataclass(frozen=True)
class RefineStep:
    round: int
    kind: str  # baseline | critique | verdict | refined
    text: str
    generation: Generation
    # The conversation the model had already processed before this step (previous prompt plus
    # its answer); ideally all of it is served from the KV cache.
    prefix_tokens: int = 0

    @property
    def prefix_recomputed(self) -> int:
        return max(0, self.prefix_tokens - self.generation.prompt_tokens_reused)


@dataclass(frozen=True)
class RefineResult:
    prompt: str
    rounds_requested: int
    steps: tuple[RefineStep, ...]
    stop_reason: str
    templates: dict[str, PromptTemplate] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.steps[0].text

    @property
    def final(self) -> str:
        refined = [s for s in self.steps if s.kind == "refined"]
        return refined[-1].text if refined else self.baseline

    @property
    def rounds_done(self) -> int:
        return sum(1 for s in self.steps if s.kind == "refined")

    def totals(self) -> dict[str, float]:
        gens = [s.generation for s in self.steps]
        prefix = sum(s.prefix_tokens for s in self.steps)
        recomputed = sum(s.prefix_recomputed for s in self.steps)
        return {
            "steps": len(gens),
            "prompt_tokens": sum(g.prompt_tokens for g in gens),
            "prompt_tokens_evaluated": sum(g.prompt_tokens_evaluated for g in gens),
            "prompt_tokens_reused": sum(g.prompt_tokens_reused for g in gens),
            "completion_tokens": sum(g.completion_tokens for g in gens),
            "seconds": sum(g.total_s for g in gens),
            "reusable_prefix_tokens": prefix,
            "prefix_tokens_recomputed": recomputed,
            "prefix_recomputed_fraction": recomputed / prefix if prefix else 0.0,
        }


OnStep = Callable[[RefineStep], None] | None
OnToken = Callable[[int, str, str], None] | None  # (round, kind, text piece)


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
) -> RefineResult:
    """Baseline, then (critique -> verdict -> refined) x rounds, stopping early when the
    verdict finds nothing to fix or a rewrite changes nothing. Pure: persistence happens in
    on_step (see run_refinement)."""
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
    stop_reason = ROUNDS_COMPLETED
    try:
        for round_no in range(1, rounds + 1):
            ask("critique")
            step(round_no, "critique", settings)
            ask("verdict")
            if step(round_no, "verdict", verdict_settings).text == "no":
                stop_reason = NO_ISSUES_FOUND
                break
            ask("refine")
            refined = step(round_no, "refined", settings)
            if _same(refined.text, answer.text):
                stop_reason = UNCHANGED_ANSWER
                break
            answer = refined
    except PromptTooLong:
        stop_reason = CONTEXT_FULL
    return RefineResult(prompt, rounds, tuple(steps), stop_reason, templates)


def run_config(
    backend: Backend,
    prompt: str,
    rounds: int,
    settings: SamplerSettings,
    templates: dict[str, PromptTemplate],
) -> dict:
    return {
        "prompt": prompt,
        "rounds": rounds,
        "model": backend.info.name,
        "model_sha256": backend.info.sha256,
        "settings": asdict(settings),
        "templates": {k: asdict(t) for k, t in templates.items()},
        "llama_cpp_version": backend.version,
    }


def run_refinement(
    store: Store,
    backend: Backend,
    prompt: str,
    rounds: int = DEFAULT_ROUNDS,
    settings: SamplerSettings | None = None,
    on_step: OnStep = None,
    on_token: OnToken = None,
    templates: dict[str, PromptTemplate] | None = None,
) -> tuple[str, RefineResult]:
    """refine() with every step stored as it completes. On any error or interruption the run
    keeps its finished steps and is marked failed (or interrupted) with the error text."""
    # Validate before creating the run, so a bad request leaves no empty run behind.
    settings, templates = prepare(prompt, rounds, settings, templates)
    store.upsert_model(backend.info)
    run_id = store.create_run("refine", run_config(backend, prompt, rounds, settings, templates))

    stored = 0

    def persist(done: RefineStep) -> None:
        nonlocal stored
        store.save_refine_step(run_id, done, stored)
        stored += 1
        if on_step:
            on_step(done)

    try:
        result = refine(backend, prompt, rounds, settings, persist, on_token, templates)
    except Exception as exc:
        store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    except BaseException as exc:  # Ctrl+C, or a Streamlit rerun stopping the page mid-run
        store.finish_run(run_id, "interrupted", error=type(exc).__name__)
        raise
    store.finish_run(run_id, "completed", stop_reason=result.stop_reason)
    return run_id, result
