"""Balanced question samples, and the stored choices of a benchmark run (stop rule, seed)."""

from collections import Counter

from core.evaluation.benchmark import create_run
from core.evaluation.sampling import balanced_sample
from core.evaluation.suites import CATEGORIES, builtin_questions
from core.store import Store
from core.types import BenchmarkConfig, ModelRef, Question, RefineConfig, SamplerSettings
from tests.support import bench_spec

SUITE = builtin_questions()  # 81 questions, 9 per category, listed category by category


def per_category(sample) -> Counter:
    return Counter(q.category for q in sample)


def test_the_builtin_suite_is_nine_categories_of_nine():
    assert len(SUITE) == 81 and per_category(SUITE) == dict.fromkeys(CATEGORIES, 9)


def test_eighteen_questions_are_two_per_category_in_suite_order():
    sample = balanced_sample(SUITE, 18, seed=0)
    assert per_category(sample) == dict.fromkeys(CATEGORIES, 2)
    positions = [SUITE.index(q) for q in sample]
    assert positions == sorted(positions)


def test_ten_questions_give_the_first_category_of_the_round_robin_a_second():
    sample = balanced_sample(SUITE, 10, seed=0)
    assert per_category(sample) == {**dict.fromkeys(CATEGORIES, 1), "generic": 2}


def test_the_same_seed_draws_the_same_questions_and_another_seed_others():
    ids = [q.id for q in balanced_sample(SUITE, 18, seed=1)]
    assert ids == [q.id for q in balanced_sample(SUITE, 18, seed=1)]
    assert ids != [q.id for q in balanced_sample(SUITE, 18, seed=2)]


def test_more_questions_than_the_suite_has_gives_all_of_them():
    assert balanced_sample(SUITE, 500, seed=3) == SUITE


def test_a_small_category_runs_out_and_the_others_fill_in():
    def q(category, n):
        return [Question(f"{category}-{i}", category, f"{category} {i}?") for i in range(n)]

    suite = q("big", 6) + q("tiny", 1) + q("mid", 3)
    # Round-robin: big, tiny, mid | big, mid | big, mid | big: tiny is spent after one.
    sample = balanced_sample(suite, 8, seed=0)
    assert per_category(sample) == {"big": 4, "tiny": 1, "mid": 3}
    positions = [suite.index(s) for s in sample]
    assert positions == sorted(positions)
    assert per_category(balanced_sample(suite, 4, seed=0)) == {"big": 2, "tiny": 1, "mid": 1}


def test_a_run_with_a_limit_stores_a_balanced_seeded_sample(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, bench_spec(limit=9, sample_seed=4), "fake")
    config = store.runs.get(run_id).config
    assert config.sample_seed == 4 and config.stop_early is False  # benchmarks: fixed rounds
    category = {q.id: q.category for q in SUITE}
    assert [category[i] for i in config.question_ids] == list(CATEGORIES)
    assert list(config.question_ids) == [q.id for q in balanced_sample(SUITE, 9, 4)]


def test_the_stop_rule_and_seed_round_trip_and_old_configs_read_as_they_ran(tmp_path):
    store = Store(tmp_path / "b.duckdb")
    run_id = create_run(store, bench_spec(stop_early=True, sample_seed=7), "fake")
    stored = store.runs.get(run_id).config.to_json()
    assert (stored["stop_early"], stored["sample_seed"]) == (True, 7)
    again = BenchmarkConfig.from_json(stored)
    assert (again.stop_early, again.sample_seed) == (True, 7)
    fixed = BenchmarkConfig.from_json({**stored, "stop_early": False})
    assert fixed.stop_early is False
    # Runs stored before the choice existed did stop early.
    old = BenchmarkConfig.from_json(
        {k: v for k, v in stored.items() if k not in ("stop_early", "sample_seed")}
    )
    assert (old.stop_early, old.sample_seed) == (True, 0)


def test_an_old_refinement_config_reads_as_stopping_early():
    config = RefineConfig(
        "Q?", 2, ModelRef("m", None), SamplerSettings(), {}, "fake", stop_early=False
    )
    stored = config.to_json()
    assert stored["stop_early"] is False and RefineConfig.from_json(stored) == config
    del stored["stop_early"]
    assert RefineConfig.from_json(stored).stop_early is True
