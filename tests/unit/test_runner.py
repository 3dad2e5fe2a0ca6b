"""Benchmark runs on the fake backend: configuration, units, resume without loss or duplicates."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.app import runs
from core.engine.fake import FAKE_INFO, FakeBackend
from core.errors import InvalidRequest, StoreError
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.lifecycle import owner_alive, process_started
from core.evaluation.results import run_results
from core.store import Store
from core.types import ItemKey, ItemKind, Owner, SamplerSettings
from tests.support import (
    CLI,
    DATA,
    FAKE_TWO,
    ROOT,
    assert_no_duplicates,
    fake_pool,
    run_cli,
)
from tests.support import bench_spec as _spec

OTHER = FAKE_TWO
_pool = fake_pool


def progress(store, run_id):
    run = store.runs.get(run_id)
    return run.done_units, run.total_units


def test_run_stores_its_full_configuration_and_every_unit(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(), "fake")
    stored = store.runs.get(run_id)
    config = stored.config.to_json()
    assert config["models"] == [
        {"name": n, "sha256": sha, "quantization": "none", "endpoint": None}
        | {"leaves_machine": False}
        for n, sha in (("fake-echo", FAKE_INFO.sha256), ("fake-two", OTHER.sha256))
    ]
    assert config["judge"]["name"] == "fake-echo" and config["rounds"] == 1
    assert config["settings"]["seed"] == 9 and config["templates"]["critique"]["id"]
    assert config["llama_cpp_version"] == "fake" and len(config["question_ids"]) == 3
    # Every unit exists from the start, with its typed key: 3 questions x (2 answers + 1 pair).
    assert (stored.status, stored.total_units, stored.done_units) == ("queued", 9, 0)
    units = store.items.pending(run_id)
    assert [u.no for u in units] == list(range(9))
    q1 = config["question_ids"][0]
    assert [u.key for u in units[:3]] == [
        ItemKey(ItemKind.ANSWER, q1, "fake-echo"),
        ItemKey(ItemKind.ANSWER, q1, "fake-two"),
        ItemKey(ItemKind.PAIR, q1, "fake-echo", "fake-two"),
    ]
    seen = []
    assert (
        run_benchmark(store, run_id, _pool(), lambda d, t, eta: seen.append((d, t))) == "completed"
    )
    assert seen[0] == (0, 9) and seen[-1] == (9, 9)
    assert progress(store, run_id) == (9, 9)
    assert store.items.pending(run_id) == []
    results = run_results(store, run_id).to_json()
    assert results["judge_reliability"]["parse_rate"] == 1.0
    assert {r["model"] for r in results["results"]} == {"fake-echo", "fake-two"}
    assert len(results["model_vs_model"]) == 3


def test_categories_and_limit_select_questions(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(categories=("math",), limit=None, judge=None), "fake")
    ids = store.runs.get(run_id).config.question_ids
    assert len(ids) == 9 and all(i.startswith("math-") for i in ids)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"suite": "nope"}, "No suite named 'nope'"),
        ({"categories": ("poetry",)}, "no category"),
        ({"limit": 0}, "at least 1"),
        ({"models": (FAKE_INFO, FAKE_INFO)}, "twice"),
        ({"models": ()}, "at least one model"),
        ({"rounds": 9}, "rounds must be"),
    ],
)
def test_bad_run_requests(tmp_path, kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        create_run(Store(tmp_path / "b.duckdb"), _spec(**kwargs), "fake")


def test_interrupted_run_resumes_without_redoing_or_duplicating(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(), "fake")

    def stop_after_four(done, total, eta):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(store, run_id, _pool(), stop_after_four)
    assert store.runs.get(run_id).status == "interrupted"
    finished = "SELECT item_no, finished_at FROM run_items WHERE run_id = ? AND status <> 'pending'"
    first = store.db.query_df(finished, [run_id])
    assert len(first) == 4
    run_benchmark(store, run_id, _pool())
    after = store.db.query_df(finished, [run_id])
    assert len(after) == 9
    kept = after.merge(first, on="item_no", suffixes=("", "_before"))
    assert (kept.finished_at == kept.finished_at_before).all()  # finished items were not redone
    assert_no_duplicates(store, run_id)


def test_partial_item_left_by_a_crash_is_discarded_on_resume(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(limit=1, judge=None, models=(FAKE_INFO,)), "fake")
    (unit,) = store.items.pending(run_id)
    stray = FakeBackend().complete("half-done step", SamplerSettings())
    store.generations.save(stray, kind="baseline", run_id=run_id, step=0, item_no=unit.no)
    run_benchmark(store, run_id, _pool())
    texts = store.db.query_df("SELECT text FROM generations WHERE run_id = ?", [run_id]).text
    assert stray.text not in set(texts)
    assert_no_duplicates(store, run_id)


def test_kill_9_mid_run_then_resume(tmp_path):
    """A real SIGKILL of `perfics run` part-way, then `perfics run --resume`."""
    env = {"PERFICS_BACKEND": "fake", "PERFICS_FAKE_DELAY_S": "0.05"}
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            "--suite",
            "builtin",
            "--models",
            "fake-echo",
            "--judge",
            "fake-echo",
            "--rounds",
            "1",
            "--limit",
            "12",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store(os.environ["PERFICS_DB"])
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        listed = store.runs.benchmark_overview()
        done = int(listed.items_done[0]) if len(listed) else 0
        if done >= 3:
            break
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_id,) = store.runs.benchmark_overview().id
    listed = json.loads(run_cli("run", "--list", "--json", env=env).stdout)
    assert listed[0]["status"] == "interrupted"  # the dead worker is noticed
    assert "ended without finishing" in listed[0]["error"]
    assert 3 <= listed[0]["items_done"] < 12
    resumed = run_cli("run", "--resume", run_id, "--quiet", "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"run_id": run_id, "status": "completed"}
    assert progress(store, run_id) == (12, 12)
    assert_no_duplicates(store, run_id)
    results = json.loads(run_cli("results", "--run", run_id, "--json", env=env).stdout)
    assert results["progress"] == {"done": 12, "total": 12}
    assert results["results"][-1]["category"] == "all" and results["results"][-1]["items"] == 12


def test_cli_suite_import_and_list(tmp_path):
    data = DATA
    ok = run_cli("suite", "import", str(data / "fastchat_question.jsonl"), "--name", "fc")
    assert ok.returncode == 0 and "imported 3 questions into suite 'fc'" in ok.stderr
    bad = run_cli("suite", "import", str(data / "malformed.jsonl"))
    assert bad.returncode == 1 and "line 3: not valid JSON" in bad.stderr
    again = run_cli("suite", "import", str(data / "fastchat_question.jsonl"), "--name", "fc")
    assert again.returncode == 1 and "exists already" in again.stderr
    listing = {s["name"]: s for s in json.loads(run_cli("suite", "list", "--json").stdout)}
    assert listing["fc"]["questions"] == 3 and listing["builtin"]["questions"] >= 80
    assert "malformed" not in listing


def test_cli_run_on_an_imported_suite_prints_the_run_id():
    env = {"PERFICS_BACKEND": "fake"}
    run_cli("suite", "import", str(DATA / "mtbench_question.jsonl"), "--name", "mt", env=env)
    result = run_cli(
        "run", "--suite", "mt", "--models", "fake", "--rounds", "0", "--quiet", env=env
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    store = runs.context.store()
    assert store.runs.get(run_id).status == "completed"
    assert progress(store, run_id) == (2, 2)


def test_a_run_already_worked_on_by_a_live_process_is_not_resumed_twice(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(limit=1, judge=None, models=(FAKE_INFO,)), "fake")
    assert store.runs.get(run_id).status == "queued"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.runs.claim(run_id, Owner(other.pid, process_started(other.pid)), owner_alive)
        with pytest.raises(StoreError, match=f"already being worked on by process {other.pid}"):
            run_benchmark(store, run_id, _pool())
    finally:
        other.kill()
        other.wait()
    assert run_benchmark(store, run_id, _pool()) == "completed"  # its owner is gone: resumable


def test_resume_refuses_a_replaced_model_file(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, _spec(limit=1, judge=None, models=(FAKE_INFO,)), "fake")
    swapped = FAKE_INFO.__class__(**{**FAKE_INFO.__dict__, "sha256": "f" * 64})
    with pytest.raises(InvalidRequest, match="not the file this run started with"):
        run_benchmark(store, run_id, lambda name: FakeBackend(info=swapped))


def test_a_suite_used_by_runs_cannot_be_replaced(tmp_path):
    from core.evaluation.suites import builtin_questions

    store = Store(tmp_path / "b.duckdb")
    create_run(store, _spec(limit=1), "fake")
    with pytest.raises(StoreError, match="used by 1 run"):
        store.suites.save("builtin", "again", builtin_questions(), replace=True)


def test_costs_average_whole_answers_including_early_stops(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    verdicts = iter(["no", "yes", "yes", "no", "yes", "yes"] * 4)

    def respond(prompt):
        last_turn = prompt.rsplit("User: ", 1)[1]
        return next(verdicts) if "yes or no" in last_turn else f"words {len(prompt)}"

    spec = _spec(limit=4, judge=None, models=(FAKE_INFO,), rounds=2, stop_early=True)
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, lambda name: FakeBackend(info=FAKE_INFO, responder=respond))
    stops = store.db.query_df("SELECT stop_reason FROM run_items WHERE run_id = ?", [run_id])
    assert "no_issues_found" in set(stops.stop_reason)
    rounds = store.aggregates.cost_by_round(run_id)
    assert list(rounds["round"]) == [0, 2]
    assert list(rounds.answers) == [4, 4]  # early stoppers count in the final mean too
    per_item = store.db.query_df(
        "SELECT item_no, sum(total_s) AS s FROM generations WHERE run_id = ? GROUP BY ALL",
        [run_id],
    )
    assert rounds.seconds_per_answer.iloc[1] == pytest.approx(per_item.s.mean())
