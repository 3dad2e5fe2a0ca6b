"""Resumable benchmark runs: models x suite questions x refinement rounds, optionally judged.

A unit is one answer (a model refining its answer to one question, then judged) or one
model-vs-model pair. All units are stored, pending, when the run is created. Generations are
stored as they complete; a unit's outcome and judgments are written together at its end.
Resuming works through the pending units and first discards whatever an interrupted unit
left, so nothing is redone or duplicated. Units of endpoint models run several at once
(core/evaluation/concurrent.py); a run of local models alone runs one unit after another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import combinations

from core.engine import Backend
from core.errors import EndpointRefusedRequest, GenerationFailed, InvalidRequest
from core.evaluation.concurrent import Lane, lane_for, work_concurrently
from core.evaluation.judge import grade, judge_pair
from core.evaluation.lifecycle import RunLifecycle
from core.evaluation.refine import check_rounds, refine
from core.evaluation.sampling import balanced_sample
from core.evaluation.suites import check_reference, ensure_builtin_suite, reference_answer
from core.evaluation.templates import DEFAULTS
from core.store import Store
from core.types import (
    BenchmarkConfig,
    ItemKey,
    ItemKind,
    ItemOutcome,
    Judgment,
    ModelRef,
    Question,
    RunKind,
    RunSpec,
    RunStatus,
    RunUnit,
)
from core.types.text import check_text

OnProgress = Callable[[int, int, float | None], None] | None  # done, total, eta seconds
LoadBackend = Callable[[str], Backend]


def check_models(models: Sequence[ModelRef], load: LoadBackend) -> None:
    """Refuse to go on with a run when a model file is not the one the run started with."""
    for ref in models:
        loaded = load(ref.name).info
        if (loaded.name, loaded.sha256) != (ref.name, ref.sha256):
            raise InvalidRequest(
                f"Model {ref.name} is not the file this run started with "
                f"(SHA-256 {(ref.sha256 or '')[:12]}…); restore it to resume the run."
            )
        if loaded.leaves_machine and not ref.leaves_machine:
            # The endpoint's URLs changed under the same name: resuming would send this run's
            # prompts to another machine while its record says they stayed here.
            raise InvalidRequest(
                f"Endpoint {ref.name} now sends prompts to another machine "
                f"({', '.join(loaded.endpoint.urls)}); this run started with it on this "
                "machine. Declare it as it was to resume, or start a new run."
            )


def select_questions(store: Store, spec: RunSpec) -> list[Question]:
    ensure_builtin_suite(store)
    questions = store.suites.questions(spec.suite)
    if not questions:
        known = ", ".join(store.suites.names())
        raise InvalidRequest(f"No suite named {spec.suite!r}. Known suites: {known}")
    if spec.categories:
        unknown = set(spec.categories) - {q.category for q in questions}
        if unknown:
            raise InvalidRequest(f"Suite {spec.suite!r} has no category {sorted(unknown)}")
        questions = [q for q in questions if q.category in spec.categories]
    if spec.limit is not None:
        if spec.limit < 1:
            raise InvalidRequest("--limit must be at least 1")
        questions = balanced_sample(questions, spec.limit, spec.sample_seed)
    return questions


def plan_units(config: BenchmarkConfig, categories: dict[str, str]) -> list[RunUnit]:
    """Units in execution order: per question, each model's answer, then each model pair
    (once both answers exist) when the run is judged."""
    keys: list[ItemKey] = []
    for qid in config.question_ids:
        keys += [ItemKey.answer(m, qid) for m in config.model_names]
        if config.judge is not None:
            keys += [ItemKey.pair(a, b, qid) for a, b in combinations(config.model_names, 2)]
    return [RunUnit(no, key, categories[key.question_id]) for no, key in enumerate(keys)]


def plan_run(
    store: Store, spec: RunSpec, llama_cpp_version: str = ""
) -> tuple[BenchmarkConfig, list[RunUnit]]:
    """The run `spec` asks for, checked, with every unit it will have; nothing is stored. The
    one place that turns a request into units, for create_run and for estimates alike."""
    check_rounds(spec.rounds)
    check_text(spec.suite, "The suite name")
    for category in spec.categories:
        check_text(category, "A category")
    if not spec.models:
        raise InvalidRequest("Choose at least one model.")
    if len({m.name for m in spec.models}) != len(spec.models):
        raise InvalidRequest("The same model is listed twice.")
    questions = select_questions(store, spec)
    if any(q.choices for q in questions):
        raise InvalidRequest(
            f"Suite {spec.suite!r} holds multiple-choice questions, which are scored by "
            "likelihood rather than answered: run it with --measure likelihood (or as a "
            "likelihood run on the Benchmarks page)."
        )
    config = BenchmarkConfig(
        suite=spec.suite,
        question_ids=tuple(q.id for q in questions),
        models=tuple(ModelRef.of(m) for m in spec.models),
        judge=ModelRef.of(spec.judge) if spec.judge else None,
        rounds=spec.rounds,
        limit=spec.limit,
        categories=spec.categories,
        settings=spec.settings,
        templates=dict(spec.templates or DEFAULTS),
        llama_cpp_version=llama_cpp_version,
        stop_early=spec.stop_early,
        sample_seed=spec.sample_seed,
    )
    return config, plan_units(config, {q.id: q.category for q in questions})


def create_run(store: Store, spec: RunSpec, llama_cpp_version: str) -> str:
    """Store the run's full configuration and all its units, queued until a worker claims it."""
    config, units = plan_run(store, spec, llama_cpp_version)
    for info in (*spec.models, *([spec.judge] if spec.judge else [])):
        store.models.upsert(info)
    return RunLifecycle.create(store, RunKind.BENCHMARK, config, units).id


class _Executor:
    """Works through one claimed run's pending units, several at once where endpoints allow:
    each unit runs on one thread, and the backends are loaded here, on the calling thread."""

    def __init__(self, store: Store, run: RunLifecycle, config: BenchmarkConfig, load):
        self.store, self.run, self.config = store, run, config
        self.questions = {q.id: q for q in store.suites.questions(config.suite)}
        missing = set(config.question_ids) - set(self.questions)
        if missing:
            raise InvalidRequest(
                f"Suite {config.suite!r} no longer has question(s) {sorted(missing)[:5]}; "
                "this run cannot be resumed."
            )
        check_models((*config.models, *([config.judge] if config.judge else [])), load)
        self.backends = {ref.name: load(ref.name) for ref in config.models}
        self.judge = load(config.judge.name) if config.judge else None

    def lane(self, unit: RunUnit) -> Lane:
        """An answer goes down its model's lane; a pair down the judge's."""
        if unit.key.kind == ItemKind.ANSWER:
            return lane_for(self.backends[unit.key.model].info)
        return lane_for(self.judge.info)

    @staticmethod
    def needs(unit: RunUnit) -> tuple[ItemKey, ...]:
        """A pair is judged once both its answers exist."""
        if unit.key.kind == ItemKind.ANSWER:
            return ()
        question = unit.key.question_id
        return (
            ItemKey.answer(unit.key.model, question),
            ItemKey.answer(unit.key.other_model, question),
        )

    def unit(self, unit: RunUnit) -> None:
        self.store.items.discard_partial(self.run.id, unit.no)
        question = self.questions[unit.key.question_id]
        if unit.key.kind == ItemKind.ANSWER:
            self.answer(unit, question, self.backends[unit.key.model])
        else:
            self.pair(unit, question)

    def answer(self, unit: RunUnit, question: Question, backend: Backend) -> None:
        step_index = 0

        def persist(step) -> None:
            nonlocal step_index
            self.store.generations.save_step(self.run.id, step, step_index, item_no=unit.no)
            step_index += 1
            self.run.check_stop()

        started = time.perf_counter()
        sha = backend.info.sha256
        try:
            result = refine(
                backend,
                question.text,
                self.config.rounds,
                self.config.settings,
                persist,
                templates=self.config.templates,
                stop_early=self.config.stop_early,
            )
        except (GenerationFailed, InvalidRequest, EndpointRefusedRequest) as exc:
            # A refused request (too long for the server's context, say) fails this item only;
            # any other EndpointError (the server away, a key missing, an unknown model)
            # propagates, so the run stops resumable.
            outcome = ItemOutcome("failed", time.perf_counter() - started, str(exc), sha)
            self.store.items.finish(self.run.id, unit.no, outcome)
            return
        judgments: list[Judgment] = []
        if self.judge is not None:
            guide = reference_answer(question)
            judgments.append(grade(self.judge, question.text, result.baseline, "baseline", guide))
            judgments.append(grade(self.judge, question.text, result.final, "refined", guide))
            if result.final != result.baseline:
                judgments += judge_pair(
                    self.judge,
                    question.text,
                    result.baseline,
                    result.final,
                    "baseline|refined",
                    guide,
                )
        outcome = ItemOutcome(
            status="done",
            seconds=time.perf_counter() - started,
            model_sha256=sha,
            baseline=result.baseline,
            final=result.final,
            stop_reason=result.stop_reason,
            rounds_done=result.rounds_done,
            baseline_correct=check_reference(question, result.baseline),
            final_correct=check_reference(question, result.final),
        )
        self.store.items.finish(self.run.id, unit.no, outcome, self.config.judge, judgments)

    def pair(self, unit: RunUnit, question: Question) -> None:
        a, b = unit.key.model, unit.key.other_model
        finals = self.store.items.answer_finals(self.run.id, question.id, [a, b])
        if len(finals) < 2:
            outcome = ItemOutcome("failed", error="an answer is missing")
            self.store.items.finish(self.run.id, unit.no, outcome)
            return
        started = time.perf_counter()
        judgments = judge_pair(
            self.judge, question.text, finals[a], finals[b], f"{a}|{b}", reference_answer(question)
        )
        outcome = ItemOutcome("done", time.perf_counter() - started)
        self.store.items.finish(self.run.id, unit.no, outcome, self.config.judge, judgments)


def run_benchmark(
    store: Store, run_id: str, load: LoadBackend, on_progress: OnProgress = None
) -> RunStatus:
    """Run (or resume) every pending unit of a run; returns the final status."""
    record = store.runs.get(run_id)
    if record.kind != RunKind.BENCHMARK:
        raise InvalidRequest(f"Run {run_id} is a {record.kind} run, not a benchmark.")
    run = RunLifecycle(store, run_id)
    with run.working():
        run.check_stop()  # stopped while it waited for this worker
        executor = _Executor(store, run, record.config, load)
        work_concurrently(run, executor.unit, executor.lane, executor.needs, on_progress)
        run.complete()
    return RunStatus.COMPLETED
