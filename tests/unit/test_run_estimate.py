"""A run's size and expected time before it starts (from speeds measured in the store), the
time left of a run that has not finished a unit yet, the Quick start run, the progress line,
the `stopped` status, and the import error the dashboard shows. Numbers are worked by hand."""

import tempfile
from collections import Counter

import pandas as pd
import pytest

from core.app import runs
from core.app.formatting import duration, estimate_text, eta_short, progress_text
from core.engine.fake import FAKE_INFO
from core.errors import InvalidRequest
from core.evaluation.benchmark import create_run, plan_run
from core.evaluation.estimate import Speed, answer_key, estimate, pair_key, speeds_for
from core.evaluation.lifecycle import RunLifecycle, RunStopped, owner_alive, this_process
from core.evaluation.suites import SuiteImportError, load_file
from core.types import ItemKey, ItemOutcome, RunEstimate, RunKind, RunState, RunStatus, RunUnit
from tests.support import DATA, FAKE_TWO, bench_spec, fake_model, finished_run

UNIT_COLUMNS = ["kind", "model", "rounds", "judge", "seconds", "n"]


def _units(questions: int, models: list[str], judged: bool) -> list[RunUnit]:
    keys = []
    for q in range(questions):
        keys += [ItemKey.answer(m, f"q{q}") for m in models]
        if judged:
            keys += [
                ItemKey.pair(a, b, f"q{q}") for i, a in enumerate(models) for b in models[i + 1 :]
            ]
    return [RunUnit(no, key, "generic") for no, key in enumerate(keys)]


def test_estimate_adds_each_units_measured_speed():
    # 2 questions x (answers of A and B + the pair A|B) = 4 answers + 2 pairs.
    units = _units(2, ["A", "B"], judged=True)
    speeds = {
        answer_key("A"): Speed(10.0, 3),
        answer_key("B"): Speed(20.0, 2),
        pair_key("J"): Speed(5.0, 4),
    }
    full = estimate(units, "J", speeds)
    assert (full.questions, full.answers, full.pairs, full.units) == (2, 4, 2, 6)
    assert full.seconds == pytest.approx(2 * 10 + 2 * 20 + 2 * 5)  # 70 s
    assert full.complete and full.measured_units == 3 + 2 + 4 and full.unmeasured == ()

    del speeds[answer_key("B")]
    part = estimate(units, "J", speeds)
    assert part.seconds == pytest.approx(2 * 10 + 2 * 5)  # 30 s: a lower bound
    assert not part.complete and part.unmeasured == ("answers of B",)
    assert eta_short(part) == "at least 30 s"

    nothing = estimate(units, "J", {})
    assert nothing.seconds is None and eta_short(nothing) == "time unknown"
    assert "no measurements yet" in estimate_text(nothing)


def test_speeds_match_model_rounds_and_judge_and_fall_back_to_generation_speed():
    unit_speeds = pd.DataFrame(
        [
            ("answer", "A", 1, "J", 12.0, 2),
            ("answer", "A", 1, "J", 6.0, 4),  # with the row above: (24 + 24) / 6 = 8 s
            ("answer", "A", 2, "J", 30.0, 5),  # other rounds: not this work
            ("answer", "B", 1, None, 9.0, 1),  # no judge: not this work
            ("pair", None, None, "J", 4.0, 3),
            ("pair", None, None, "K", 100.0, 1),  # another judge
        ],
        columns=UNIT_COLUMNS,
    )
    generation_speeds = pd.DataFrame([("B", 2.0, 10)], columns=["model", "seconds", "n"])
    speeds = speeds_for(["A", "B", "C"], 1, "J", unit_speeds, generation_speeds)
    assert speeds[answer_key("A")] == Speed(8.0, 6)
    assert speeds[pair_key("J")] == Speed(4.0, 3)
    # B: 1 + 2 x 1 generations at 2 s, plus two pairs' worth of judging at 4 s = 14 s.
    assert speeds[answer_key("B")] == Speed(14.0, 10, rough=True)
    assert answer_key("C") not in speeds

    e = estimate(_units(3, ["A", "B", "C"], judged=True), "J", speeds)
    assert (e.answers, e.pairs) == (9, 9)
    assert e.seconds == pytest.approx(3 * 8 + 3 * 14 + 9 * 4)  # 102 s
    assert e.unmeasured == ("answers of C",) and e.rough == ("answers of B",)
    assert (e.measured_units, e.measured_generations) == (6 + 3, 10)
    text = estimate_text(e)
    assert text.startswith("18 units (9 answers + 9 pairs, 3 questions) · at least 2 min")
    assert "n=9" in text and "n=10 generations" in text and "answers of C" in text


def _measured_run(store) -> str:
    """A finished run (fake-echo and fake-two, judged by fake-echo, 3 questions, 1 round)
    whose units took 10 s (fake-echo's answers), 20 s (fake-two's) and 4 s (pairs)."""
    run_id = finished_run(store)
    store.db.execute(
        "UPDATE run_items SET seconds = CASE WHEN kind = 'pair' THEN 4.0 "
        "WHEN model_name = 'fake-echo' THEN 10.0 ELSE 20.0 END WHERE run_id = ?",
        [run_id],
    )
    return run_id


def test_the_estimate_of_a_new_run_comes_from_earlier_units_in_the_store(store):
    empty = runs.estimate(bench_spec(limit=2))
    assert (empty.units, empty.seconds) == (6, None)
    _measured_run(store)
    e = runs.estimate(bench_spec(limit=2))  # 2 x (2 answers + 1 pair)
    assert (e.answers, e.pairs) == (4, 2)
    assert e.seconds == pytest.approx(2 * 10 + 2 * 20 + 2 * 4)  # 68 s
    assert e.complete and e.measured_units == 9  # 3 units of each kind
    assert eta_short(e) == "about 1 min"
    # Two rounds were never measured: the models' generation speed (all set to 1 s here),
    # 1 + 2 x 2 generations, plus two 4 s pairs of judging = 13 s an answer.
    store.db.execute("UPDATE generations SET total_s = 1.0")
    two = runs.estimate(bench_spec(limit=2, rounds=2))
    assert two.seconds == pytest.approx(4 * 13 + 2 * 4)  # 60 s
    assert two.rough == ("answers of fake-echo", "answers of fake-two")


def test_the_estimate_counts_units_as_the_runner_plans_them(store):
    spec = bench_spec(limit=4, models=(FAKE_INFO, FAKE_TWO, fake_model("fake-three", "3")))
    e = runs.estimate(spec)
    _, units = plan_run(store, spec)
    assert e.units == len(units) == 4 * (3 + 3)
    run_id = create_run(store, spec, "fake")
    assert store.runs.get(run_id).total_units == e.units
    with pytest.raises(InvalidRequest, match="at least one model"):
        runs.estimate(bench_spec(models=()))


def test_time_left_before_the_first_unit_uses_earlier_speeds(store):
    _measured_run(store)
    run_id = create_run(store, bench_spec(limit=2), "fake")
    store.runs.claim(run_id, this_process(), owner_alive)  # running, in this live process
    state = runs.run_state(run_id)
    assert (state.status, state.done, state.total) == (RunStatus.RUNNING, 0, 6)
    assert state.eta_s == pytest.approx(68.0)
    assert progress_text(state) == "0 of 6 items · about 1 min left"
    # Once a unit of its own finished, its own mean speed: 5 left x 50 s.
    store.items.finish(run_id, 0, ItemOutcome("done", 50.0))
    assert runs.run_state(run_id).eta_s == pytest.approx(250.0)


def test_progress_and_durations_read_as_people_say_them():
    assert [duration(s) for s in (0.2, 40, 7 * 60, 125 * 60)] == [
        "1 s",
        "40 s",
        "7 min",
        "2 h 5 min",
    ]
    running = RunState("r", RunStatus.RUNNING, 3, 12, 240.0)
    assert progress_text(running) == "3 of 12 items · about 4 min left"
    unknown = RunState("r", RunStatus.RUNNING, 0, 12, None)
    assert progress_text(unknown) == "0 of 12 items · time left not known yet"
    assert progress_text(RunState("r", RunStatus.STOPPED, 5, 12, 99.0)) == "5 of 12 items"
    assert RunEstimate(2, 4, 2).units == 6


def test_quick_start_is_every_usable_model_on_18_balanced_questions(store):
    broken = fake_model("broken", "9", usable=False)
    instruct = fake_model("instruct", "8", has_chat_template=True, file_size=10)
    spec = runs.quick_start_spec([FAKE_INFO, broken, instruct])
    assert [m.name for m in spec.models] == ["fake-echo", "instruct"]
    assert spec.judge == instruct  # `auto`: the instruction-tuned model
    assert (spec.suite, spec.limit, spec.rounds, spec.stop_early) == ("builtin", 18, 1, False)
    config, units = plan_run(store, spec)
    # Nine categories, two questions each; 2 answers and 1 pair per question.
    categories = Counter(u.category for u in units if u.key.kind == "answer")
    assert len(categories) == 9 and set(categories.values()) == {2 * 2}
    e = runs.estimate(spec)
    assert (e.questions, e.answers, e.pairs) == (18, 36, 18)
    with pytest.raises(InvalidRequest, match="No usable model"):
        runs.quick_start_spec([broken])


def test_only_a_stop_asked_for_ends_a_run_stopped(store):
    stopped = create_run(store, bench_spec(limit=1), "fake")
    store.runs.request_stop(stopped)
    with pytest.raises(RunStopped), RunLifecycle(store, stopped).working():
        raise RunStopped
    assert store.runs.get(stopped).status == RunStatus.STOPPED
    assert store.runs.get(stopped).status.resumable
    # The same exception without a request (a screen's rerun, a bare SIGTERM): interrupted.
    other = create_run(store, bench_spec(limit=1), "fake")
    with pytest.raises(RunStopped), RunLifecycle(store, other).working():
        raise RunStopped
    assert store.runs.get(other).status == RunStatus.INTERRUPTED
    runs.prepare_resume(stopped)
    assert store.runs.get(stopped).status == RunStatus.QUEUED
    assert store.runs.get(stopped).kind == RunKind.BENCHMARK


def test_an_uploads_import_error_names_the_file_and_the_checkbox(store):
    data = (DATA / "malformed.jsonl").read_bytes()
    with pytest.raises(SuiteImportError) as err:
        runs.import_upload("my questions.jsonl", data)
    message = str(err.value)
    lines = message.splitlines()
    assert lines[0] == "my questions.jsonl: 7 invalid row(s), 1 valid; nothing was imported."
    assert lines[1] == "  line 2: 'turns' must be a non-empty list of strings"
    assert len([line for line in lines if line.strip().startswith("line ")]) == 7
    assert runs.SKIP_INVALID_LABEL in lines[-1] and "1 valid one" in lines[-1]
    assert "--skip-invalid" not in message and tempfile.gettempdir() not in message
    done = runs.import_upload("my questions.jsonl", data, skip_invalid=True)
    assert (done.name, done.questions, len(done.skipped)) == ("my questions", 1, 7)
    # The CLI keeps its own advice.
    with pytest.raises(SuiteImportError, match="--skip-invalid"):
        load_file(DATA / "malformed.jsonl")
