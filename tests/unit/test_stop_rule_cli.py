"""The stop rule and the question sample as `perfics refine` and `perfics run` take them, and
a benchmark's default of the paper's fixed rounds."""

import json

from core.app.cli import build_parser
from core.engine.fake import FAKE_INFO, FakeBackend
from core.evaluation.benchmark import create_run, run_benchmark
from core.store import Store
from tests.support import bench_spec, run_cli

REFINE = ["refine", "--model", "fake", "--prompt", "Q?"]
RUN = ["run", "--suite", "builtin", "--models", "fake"]


def test_refine_stops_early_unless_told_not_to():
    parse = build_parser().parse_args
    assert parse(REFINE).stop_early is True
    assert parse([*REFINE, "--no-stop-early"]).stop_early is False
    assert parse([*REFINE, "--stop-early"]).stop_early is True


def test_a_benchmark_runs_fixed_rounds_unless_told_to_stop_early():
    parse = build_parser().parse_args
    args = parse(RUN)
    assert (args.stop_early, args.sample_seed, args.limit) == (False, 0, None)
    args = parse([*RUN, "--stop-early", "--limit", "18", "--sample-seed", "5"])
    assert (args.stop_early, args.sample_seed, args.limit) == (True, 5, 18)


def test_cli_refine_without_early_stop_runs_every_round():
    done = run_cli(
        *REFINE, "--rounds", "2", "--no-stop-early", "--json", env={"PERFICS_BACKEND": "fake"}
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["stop_early"] is False and report["stop_reason"] == "rounds_completed"
    assert [sorted(set(r) - {"round", "metrics"}) for r in report["rounds"]] == [
        ["critique", "refined"],
        ["critique", "refined"],
    ]


def test_cli_run_stores_the_seed_and_the_stop_rule(store):
    done = run_cli(
        *RUN, "--rounds", "0", "--limit", "9", "--sample-seed", "3", "--quiet",
        env={"PERFICS_BACKEND": "fake"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = store.runs.get(done.stdout.strip()).config
    assert (config.stop_early, config.sample_seed, len(config.question_ids)) == (False, 3, 9)
    assert len({q.split("-")[0] for q in config.question_ids}) == 9  # one from each category


def test_a_benchmark_answer_gets_every_round_when_a_verdict_would_say_no(tmp_path):
    store = Store(tmp_path / "b.duckdb")

    def respond(prompt):
        return "no" if "yes or no" in prompt.rsplit("User: ", 1)[1] else f"words {len(prompt)}"

    spec = bench_spec(limit=2, judge=None, models=(FAKE_INFO,), rounds=2)
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, lambda name: FakeBackend(info=FAKE_INFO, responder=respond))
    items = store.db.query_df(
        "SELECT stop_reason, rounds_done FROM run_items WHERE run_id = ?", [run_id]
    )
    assert list(items.stop_reason) == ["rounds_completed"] * 2 and list(items.rounds_done) == [2, 2]
    kinds = store.db.query_df("SELECT kind FROM generations WHERE run_id = ?", [run_id]).kind
    assert "verdict" not in set(kinds)
