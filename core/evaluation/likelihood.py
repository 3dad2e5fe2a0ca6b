"""Likelihood runs: quality without a judge, from how likely a model finds the right text.

A unit is one model and one question. A multiple-choice question has each choice scored
after the question (teacher forcing, `backend.score_text`); a question with a reference
answer has that answer scored. Nothing is generated, so the figures are deterministic.

Framing, as lm-evaluation-harness frames zero-shot multiple choice for every model, chat
and base alike (no chat template): the context is "Question: {question}\\nAnswer:" and each
continuation is " " + the choice (or the reference answer). Context and continuation are
tokenised separately, so the scored tokens are the continuation's own. docs/likelihood.md has
the formulas; the per-unit figures are derived in SQL (core/store/likelihood.py).

Runs share the benchmark's machinery: units stored pending at creation, the background
worker, the run lifecycle (stop, resume, delete), and a unit's outcome and its scores
written in one transaction, so a resumed run never redoes or duplicates a unit.
"""

from __future__ import annotations

import time

from core.engine import Backend
from core.engine.registry import require_local_file
from core.errors import GenerationFailed, InvalidRequest, PerficsError
from core.evaluation.benchmark import LoadBackend, OnProgress, check_models, select_questions
from core.evaluation.lifecycle import RunLifecycle
from core.store import Store
from core.types import (
    ContinuationScore,
    ItemKey,
    ItemKind,
    ItemOutcome,
    LikelihoodConfig,
    LikelihoodSpec,
    ModelRef,
    Question,
    RunKind,
    RunSpec,
    RunStatus,
    RunUnit,
)

FRAMING = "lm-eval-qa-v1"
CONTEXT_TEMPLATE = "Question: {question}\nAnswer:"
DELIMITER = " "  # lm-evaluation-harness's target delimiter, scored with the continuation
# References that are answer text. Not `tests` (code that checks an answer, not one) nor
# `magnitude` (an order-of-magnitude estimate: its exact digits are not the right answer).
REFERENCE_KINDS = ("answer", "contains", "numeric")


class NoProbabilities(PerficsError):
    """The backend exposes no token probabilities, so nothing can be scored."""


def measure_of(question: Question) -> ItemKind | None:
    """How likelihood scores the question, or None when it cannot."""
    if question.choices:
        return ItemKind.MC_LIKELIHOOD
    if question.reference and question.reference_kind in REFERENCE_KINDS:
        return ItemKind.REFERENCE_LIKELIHOOD
    return None


def context_for(question: Question) -> str:
    return CONTEXT_TEMPLATE.format(question=question.text)


def continuations(question: Question) -> list[tuple[int, str, bool]]:
    """(position, text without the delimiter, is the answer) for each text to score."""
    if question.choices:
        return [(i, c, c == question.reference) for i, c in enumerate(question.choices)]
    if measure_of(question) is None:
        raise InvalidRequest(f"Question {question.id} has no choices and no reference answer.")
    return [(0, question.reference, True)]


def score_question(backend: Backend, question: Question) -> tuple[ContinuationScore, ...]:
    """Every continuation of the question scored after its context."""
    context = context_for(question)
    scorer = getattr(backend, "score_text", None)
    scored = []
    for position, text, is_answer in continuations(question):
        score = scorer(context, DELIMITER + text, 0) if scorer else None
        if score is None:
            raise NoProbabilities(
                f"{backend.info.name}'s backend exposes no token probabilities, so it cannot "
                "be scored by likelihood."
            )
        scored.append(
            ContinuationScore(
                choice=position,
                text=score.continuation,
                is_answer=is_answer,
                logprob=score.total_logprob,
                n_tokens=score.n_tokens,
                n_bytes=score.n_bytes,
                n_chars=len(text),
                context_tokens=score.context_tokens,
            )
        )
    return tuple(scored)


def plan_likelihood(
    store: Store, spec: LikelihoodSpec, llama_cpp_version: str = ""
) -> tuple[LikelihoodConfig, list[RunUnit], int]:
    """The run `spec` asks for, checked, with its units (model by model, question by question)
    and how many chosen questions likelihood cannot score (left out); nothing is stored."""
    if not spec.models:
        raise InvalidRequest("Choose at least one model.")
    if len({m.name for m in spec.models}) != len(spec.models):
        raise InvalidRequest("The same model is listed twice.")
    for model in spec.models:  # token probabilities come from the model file itself
        require_local_file(model, "a likelihood run")
    chosen = select_questions(
        store,
        RunSpec(
            suite=spec.suite,
            models=spec.models,
            limit=spec.limit,
            categories=spec.categories,
            sample_seed=spec.sample_seed,
        ),
    )
    questions = [q for q in chosen if measure_of(q) is not None]
    if not questions:
        # A sample can miss the suite's few scorable questions: say so rather than blame it.
        drawn = (
            f" The {len(chosen)} question(s) chosen by the limit and categories have none; "
            "choose more questions or other categories."
            if spec.limit or spec.categories
            else ""
        )
        raise InvalidRequest(
            f"No question of suite {spec.suite!r} can be scored by likelihood: that needs "
            f"multiple-choice questions or references of kind {', '.join(REFERENCE_KINDS)}." + drawn
        )
    config = LikelihoodConfig(
        suite=spec.suite,
        question_ids=tuple(q.id for q in questions),
        models=tuple(ModelRef.of(m) for m in spec.models),
        framing=FRAMING,
        limit=spec.limit,
        categories=spec.categories,
        llama_cpp_version=llama_cpp_version,
        sample_seed=spec.sample_seed,
    )
    keys = [
        (ItemKey(measure_of(q), q.id, model), q.category)
        for model in config.model_names
        for q in questions
    ]
    units = [RunUnit(no, key, category) for no, (key, category) in enumerate(keys)]
    return config, units, len(chosen) - len(questions)


def create_likelihood_run(store: Store, spec: LikelihoodSpec, llama_cpp_version: str) -> str:
    """Store the run's configuration and all its units, queued until a worker claims it."""
    config, units, _ = plan_likelihood(store, spec, llama_cpp_version)
    for info in spec.models:
        store.models.upsert(info)
    return RunLifecycle.create(store, RunKind.LIKELIHOOD, config, units).id


def _questions(store: Store, config: LikelihoodConfig) -> dict[str, Question]:
    questions = {q.id: q for q in store.suites.questions(config.suite)}
    missing = set(config.question_ids) - set(questions)
    if missing:
        raise InvalidRequest(
            f"Suite {config.suite!r} no longer has question(s) {sorted(missing)[:5]}; "
            "this run cannot be resumed."
        )
    return questions


def _score_unit(store: Store, run_id: str, unit: RunUnit, question: Question, backend) -> None:
    started = time.perf_counter()
    sha = backend.info.sha256
    try:
        scores = score_question(backend, question)
    except (GenerationFailed, InvalidRequest) as exc:  # this unit only, e.g. too long
        outcome = ItemOutcome("failed", time.perf_counter() - started, str(exc), sha)
        store.likelihood.finish(run_id, unit.no, outcome)
        return
    outcome = ItemOutcome("done", time.perf_counter() - started, model_sha256=sha)
    store.likelihood.finish(run_id, unit.no, outcome, scores)


def run_likelihood(
    store: Store, run_id: str, load: LoadBackend, on_progress: OnProgress = None
) -> RunStatus:
    """Score (or resume scoring) every pending unit of a likelihood run."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.LIKELIHOOD:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a likelihood run.")
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()  # stopped while it waited for this worker
        questions = _questions(store, record.config)
        check_models(record.config.models, load)

        def score(unit: RunUnit) -> None:
            question = questions[unit.key.question_id]
            _score_unit(store, run_id, unit, question, load(unit.key.model))

        run.work_through(score, on_progress)
        run.complete()
    return RunStatus.COMPLETED
