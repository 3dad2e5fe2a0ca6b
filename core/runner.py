"""Resumable benchmark runs: models x suite questions x refinement rounds, optionally judged.

A unit of work is one answer (a model refining its answer to one question, then judged) or one
model-vs-model pair. Generations are stored as they complete; the unit's row and judgments are
written together at its end. Resuming skips finished units and first discards whatever an
interrupted unit left, so nothing is redone or duplicated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import pandas as pd

from core.engine import Backend
from core.errors import GenerationFailed, InvalidRequest
from core.judge import Judgment, grade, judge_pair
from core.records import ModelInfo, SamplerSettings
from core.refine import DEFAULT_ROUNDS, check_rounds, refine
from core.session import pid_alive
from core.store import Store
from core.suites import BUILTIN_SUITE, Question, builtin_questions, check_reference
from core.templates import DEFAULTS, PromptTemplate

OnProgress = Callable[[int, int, float | None], None] | None  # done, total, eta seconds


@dataclass(frozen=True)
class RunSpec:
    suite: str
    models: tuple[ModelInfo, ...]
    rounds: int = DEFAULT_ROUNDS
    judge: ModelInfo | None = None
    limit: int | None = None
    categories: tuple[str, ...] = ()
    settings: SamplerSettings = field(default_factory=lambda: SamplerSettings(max_tokens=384))
    templates: dict[str, PromptTemplate] = field(default_factory=lambda: dict(DEFAULTS))


def ensure_builtin_suite(store: Store) -> None:
    if BUILTIN_SUITE not in set(store.list_suites().name):
        store.save_suite(BUILTIN_SUITE, "built-in (PeRFICS Studio)", builtin_questions())


def select_questions(store: Store, spec: RunSpec) -> list[Question]:
    ensure_builtin_suite(store)
    questions = store.suite_questions(spec.suite)
    if not questions:
        known = ", ".join(store.list_suites().name)
        raise InvalidRequest(f"No suite named {spec.suite!r}. Known suites: {known}")
    if spec.categories:
        unknown = set(spec.categories) - {q.category for q in questions}
        if unknown:
            raise InvalidRequest(f"Suite {spec.suite!r} has no category {sorted(unknown)}")
        questions = [q for q in questions if q.category in spec.categories]
    if spec.limit is not None:
        if spec.limit < 1:
            raise InvalidRequest("--limit must be at least 1")
        questions = questions[: spec.limit]
    return questions


def _model_entry(info: ModelInfo) -> dict:
    return {"name": info.name, "sha256": info.sha256, "quantization": info.quantization}


def create_run(store: Store, spec: RunSpec, llama_cpp_version: str) -> str:
    """Store the run's full configuration, including the exact question ids it covers."""
    check_rounds(spec.rounds)
    if not spec.models:
        raise InvalidRequest("Choose at least one model.")
    if len({m.name for m in spec.models}) != len(spec.models):
        raise InvalidRequest("The same model is listed twice.")
    questions = select_questions(store, spec)
    for info in (*spec.models, *([spec.judge] if spec.judge else [])):
        store.upsert_model(info)
    config = {
        "suite": spec.suite,
        "question_ids": [q.id for q in questions],
        "models": [_model_entry(m) for m in spec.models],
        "judge": _model_entry(spec.judge) if spec.judge else None,
        "rounds": spec.rounds,
        "limit": spec.limit,
        "categories": list(spec.categories),
        "settings": asdict(spec.settings),
        "templates": {k: asdict(t) for k, t in spec.templates.items()},
        "llama_cpp_version": llama_cpp_version,
    }
    # Queued until a process claims it in execute(), so a launcher never blocks its worker.
    return store.create_run("benchmark", config, status="queued")


def _units(config: dict) -> list[tuple[str, str, tuple]]:
    """(item_key, kind, detail) in execution order: per question, each model's answer, then
    each model pair once both answers exist."""
    models = [m["name"] for m in config["models"]]
    judged = config["judge"] is not None
    units = []
    for qid in config["question_ids"]:
        units += [(f"answer:{m}:{qid}", "answer", (m, qid)) for m in models]
        if judged:
            units += [
                (f"pair:{a}|{b}:{qid}", "pair", (a, b, qid)) for a, b in combinations(models, 2)
            ]
    return units


def _judgment_rows(run_id: str, key: str, judge: Backend, js: list[Judgment]) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "item_key": key,
            "judge_name": judge.info.name,
            "judge_sha256": judge.info.sha256 or "",
            **asdict(j),
        }
        for j in js
    ]


def _run_answer(store, run_id, key, question, backend, judge, config, settings, templates):
    step_index = 0

    def persist(step) -> None:
        nonlocal step_index
        store.save_refine_step(run_id, step, step_index, item_key=key)
        step_index += 1

    started = time.perf_counter()
    item = {
        "run_id": run_id,
        "item_key": key,
        "kind": "answer",
        "model_name": backend.info.name,
        "model_sha256": backend.info.sha256,
        "question_id": question.id,
        "category": question.category,
    }
    try:
        result = refine(
            backend, question.text, config["rounds"], settings, persist, templates=templates
        )
    except (GenerationFailed, InvalidRequest) as exc:
        store.finish_item(
            {
                **item,
                "status": "failed",
                "error": str(exc),
                "seconds": time.perf_counter() - started,
            },
            [],
        )
        return
    judgments: list[Judgment] = []
    if judge is not None:
        judgments.append(grade(judge, question.text, result.baseline, "baseline"))
        judgments.append(grade(judge, question.text, result.final, "refined"))
        if result.final != result.baseline:
            judgments += judge_pair(
                judge, question.text, result.baseline, result.final, "baseline|refined"
            )
    store.finish_item(
        {
            **item,
            "status": "done",
            "baseline": result.baseline,
            "final": result.final,
            "stop_reason": result.stop_reason,
            "rounds_done": result.rounds_done,
            "baseline_correct": check_reference(question, result.baseline),
            "final_correct": check_reference(question, result.final),
            "seconds": time.perf_counter() - started,
        },
        _judgment_rows(run_id, key, judge, judgments) if judge else [],
    )


def _run_pair(store, run_id, key, question, a, b, judge):
    finals = (
        store.query_df(
            "SELECT model_name, final FROM run_items WHERE run_id = ? AND kind = 'answer' "
            "AND question_id = ? AND status = 'done' AND model_name IN (?, ?)",
            [run_id, question.id, a, b],
        )
        .set_index("model_name")
        .final
    )
    item = {
        "run_id": run_id,
        "item_key": key,
        "kind": "pair",
        "question_id": question.id,
        "category": question.category,
    }
    if len(finals) < 2:
        store.finish_item({**item, "status": "failed", "error": "an answer is missing"}, [])
        return
    started = time.perf_counter()
    judgments = judge_pair(judge, question.text, finals[a], finals[b], f"{a}|{b}")
    store.finish_item(
        {**item, "status": "done", "seconds": time.perf_counter() - started},
        _judgment_rows(run_id, key, judge, judgments),
    )


def execute(
    store: Store, run_id: str, load: Callable[[str], Backend], on_progress: OnProgress = None
) -> str:
    """Run (or resume) every unfinished unit of a run; returns the final status."""
    run = store.get_run(run_id)
    if run["kind"] != "benchmark":
        raise InvalidRequest(f"Run {run_id} is a {run['kind']} run, not a benchmark.")
    config = run["config"]
    store.claim_run(run_id, os.getpid(), pid_alive)
    questions = {q.id: q for q in store.suite_questions(config["suite"])}
    missing = set(config["question_ids"]) - set(questions)
    if missing:
        raise InvalidRequest(
            f"Suite {config['suite']!r} no longer has question(s) {sorted(missing)[:5]}; "
            "this run cannot be resumed."
        )
    settings = SamplerSettings(**{**config["settings"], "stop": tuple(config["settings"]["stop"])})
    templates = {k: PromptTemplate(**t) for k, t in config["templates"].items()}
    units = _units(config)
    done = store.done_items(run_id)
    todo = [u for u in units if u[0] not in done]
    for entry in config["models"] + ([config["judge"]] if config["judge"] else []):
        loaded = load(entry["name"]).info
        if (loaded.name, loaded.sha256) != (entry["name"], entry["sha256"]):
            raise InvalidRequest(
                f"Model {entry['name']} is not the file this run started with "
                f"(SHA-256 {entry['sha256'][:12]}…); restore it to resume the run."
            )
    judge = load(config["judge"]["name"]) if config["judge"] else None
    finished, started = len(units) - len(todo), time.monotonic()
    if on_progress:
        on_progress(finished, len(units), None)
    try:
        for n, (key, kind, detail) in enumerate(todo, start=1):
            store.discard_partial_item(run_id, key)
            if kind == "answer":
                model, qid = detail
                _run_answer(
                    store,
                    run_id,
                    key,
                    questions[qid],
                    load(model),
                    judge,
                    config,
                    settings,
                    templates,
                )
            else:
                a, b, qid = detail
                _run_pair(store, run_id, key, questions[qid], a, b, judge)
            if on_progress:
                eta = (time.monotonic() - started) / n * (len(todo) - n)
                on_progress(finished + n, len(units), eta)
    except Exception as exc:
        store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    except BaseException as exc:  # Ctrl+C: resumable
        store.finish_run(run_id, "interrupted", error=type(exc).__name__)
        raise
    store.finish_run(run_id, "completed")
    return "completed"


def progress(store: Store, run_id: str) -> tuple[int, int]:
    """(finished units, all units) of a run, read from the store."""
    config = store.get_run(run_id)["config"]
    return len(store.done_items(run_id)), len(_units(config))


def overview(store: Store) -> pd.DataFrame:
    """Benchmark runs, newest first, with progress; a "running" run whose process is gone
    is shown as stale (resumable)."""
    runs = store.list_benchmark_runs()
    if runs.empty:
        return runs.assign(total=[], eta_s=[]).drop(columns=["pid", "config"])
    runs["total"] = [len(_units(json.loads(c))) for c in runs.config]
    runs["eta_s"] = (runs.total - runs.items_done) * runs.seconds_per_item
    runs["status"] = [
        "stale (resumable)" if s == "running" and not pid_alive(p) else s
        for s, p in zip(runs.status, runs.pid, strict=True)
    ]
    return runs.drop(columns=["pid", "config"])


def launch(run_id: str, log_dir: Path) -> int:
    """Continue a created run in a background `perfics run` process, so closing the browser
    tab or navigating away never stops it. Returns the process id."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"run-{run_id}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "run", "--resume", run_id, "--quiet"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc.pid
