"""Migration 5 on a store written by version 4: formatted item keys become typed columns and
numbered units, nothing is lost, and a half-finished run can still be resumed."""

import json

import duckdb
import pytest

from core.errors import StoreError
from core.evaluation.benchmark import run_benchmark
from core.store import Store
from core.store.duck import now
from core.store.migrations import MIGRATIONS
from core.types import ItemKey, ItemKind
from tests.support import assert_no_duplicates, fake_pool

CONFIG = {
    "suite": "builtin",
    "question_ids": ["generic-1", "generic-2"],
    "models": [
        {"name": "fake-echo", "sha256": "0" * 64, "quantization": "none"},
        {"name": "fake-two", "sha256": "2" * 64, "quantization": "none"},
    ],
    "judge": {"name": "fake-echo", "sha256": "0" * 64, "quantization": "none"},
    "rounds": 0,
    "limit": 2,
    "categories": [],
    "settings": {
        "temperature": 0.7,
        "top_p": 0.95,
        "repeat_penalty": 1.1,
        "max_tokens": 64,
        "seed": 9,
        "stop": [],
        "grammar": None,
    },
    "templates": {},
    "llama_cpp_version": "fake",
}


def _version_4_store(path) -> None:
    """The schema and rows as version 4 wrote them: two of six units finished, a third one
    half done (a generation but no item row), and one arena vote."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
            "applied_at TIMESTAMP)"
        )
        for version, migration in enumerate(MIGRATIONS[:4], start=1):
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [version, migration.__name__, now()]
            )
        con.execute("INSERT INTO suites VALUES ('builtin', 'test', ?)", [now()])
        for i, qid in enumerate(CONFIG["question_ids"]):
            con.execute(
                "INSERT INTO questions VALUES ('builtin', ?, ?, 'generic', ?, '[]', NULL, NULL, "
                "NULL)",
                [qid, i, f"Question {qid}?"],
            )
        con.execute(
            "INSERT INTO runs (id, kind, status, config, created_at, pid) "
            "VALUES ('old', 'benchmark', 'interrupted', ?, ?, NULL)",
            [json.dumps(CONFIG), now()],
        )
        done = [
            ("answer:fake-echo:generic-1", "answer", "fake-echo"),
            ("answer:fake-two:generic-1", "answer", "fake-two"),
        ]
        for key, kind, model in done:
            con.execute(
                "INSERT INTO run_items (run_id, item_key, kind, model_name, model_sha256, "
                "question_id, category, status, baseline, final, seconds, created_at) "
                "VALUES ('old', ?, ?, ?, 'sha', 'generic-1', 'generic', 'done', 'b', 'f', 1.5, ?)",
                [key, kind, model, now()],
            )
            con.execute(
                "INSERT INTO judgments VALUES (?, 'old', ?, 'fake-echo', 'sha', 'single', "
                "'baseline', NULL, 7, NULL, 'ok', NULL, ?)",
                [f"j-{model}", key, now()],
            )
        gen = (
            "INSERT INTO generations (id, run_id, step, kind, model_sha256, model_name, prompt, "
            "text, finish_reason, prompt_tokens, prompt_tokens_evaluated, completion_tokens, "
            "ttft_s, total_s, peak_rss_mb, temperature, top_p, max_tokens, seed, stop, "
            "llama_cpp_version, created_at, item_key) VALUES (?, 'old', 0, 'baseline', 'sha', "
            "?, '\"q\"', ?, 'stop', 5, 5, 3, 0.1, 0.2, 10, 0.7, 0.95, 64, 9, '[]', 'fake', ?, ?)"
        )
        con.execute(gen, ["g1", "fake-echo", "finished", now(), "answer:fake-echo:generic-1"])
        con.execute(
            gen, ["g2", "fake-echo", "half done", now(), "pair:fake-echo|fake-two:generic-1"]
        )
        con.execute(
            "INSERT INTO votes VALUES "
            "('v1', 'old', 'answer:fake-two:generic-1', 'l', 'r', 'left', ?)",
            [now()],
        )


def test_version_4_rows_get_typed_keys_and_numbered_units(tmp_path):
    path = tmp_path / "v4.duckdb"
    _version_4_store(path)
    store = Store(path)
    assert store.init() == len(MIGRATIONS)
    run = store.runs.get("old")
    assert (run.total_units, run.done_units) == (6, 2)
    units = store.items.pending("old")
    assert [u.no for u in units] == [2, 3, 4, 5]
    assert units[0].key == ItemKey(ItemKind.PAIR, "generic-1", "fake-echo", "fake-two")
    assert units[1].key == ItemKey(ItemKind.ANSWER, "generic-2", "fake-echo")
    assert all(u.category == "generic" for u in units)
    finished = store.db.rows(
        "SELECT item_no, model_name, other_model_name, status, final, seconds FROM run_items "
        "WHERE run_id = 'old' AND status = 'done' ORDER BY item_no"
    )
    assert finished == [
        (0, "fake-echo", None, "done", "f", 1.5),
        (1, "fake-two", None, "done", "f", 1.5),
    ]
    assert store.db.rows("SELECT id, item_no FROM generations ORDER BY id") == [
        ("g1", 0),
        ("g2", 2),
    ]
    assert store.db.rows("SELECT id, item_no FROM judgments ORDER BY id") == [
        ("j-fake-echo", 0),
        ("j-fake-two", 1),
    ]
    assert store.db.rows("SELECT item_no FROM votes") == [(1,)]
    columns = {
        table: {
            r[0]
            for r in store.db.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            )
        }
        for table in ("run_items", "generations", "judgments", "votes")
    }
    assert not any("item_key" in c or "pair_key" in c for c in columns.values())
    assert {"kind", "question_id", "model_name", "other_model_name", "item_no"} <= columns[
        "run_items"
    ]


def test_a_migrated_half_finished_run_resumes_without_duplicates(tmp_path):
    path = tmp_path / "v4.duckdb"
    _version_4_store(path)
    store = Store(path)
    run_benchmark(store, "old", fake_pool())
    run = store.runs.get("old")
    assert (run.status, run.done_units) == ("completed", 6)
    assert "half done" not in {r[0] for r in store.db.rows("SELECT text FROM generations")}
    assert_no_duplicates(store, "old")


def test_odd_version_4_rows_are_kept_or_flagged_never_lost(tmp_path):
    path = tmp_path / "v4.duckdb"
    _version_4_store(path)
    with duckdb.connect(str(path)) as con:
        # A run left "running" by a worker that died under version 4.
        con.execute(
            "INSERT INTO runs (id, kind, status, config, created_at, pid) "
            "VALUES ('crashed', 'benchmark', 'running', ?, ?, 1)",
            [json.dumps(CONFIG), now()],
        )
        # A finished row the configuration does not explain, and a configuration nobody can read.
        con.execute(
            "INSERT INTO run_items (run_id, item_key, kind, model_name, question_id, category, "
            "status, final, created_at) VALUES ('old', 'answer:ghost:generic-9', 'answer', "
            "'ghost', 'generic-9', 'generic', 'done', 'boo', ?)",
            [now()],
        )
        con.execute(
            "INSERT INTO runs (id, kind, status, config, created_at) "
            "VALUES ('broken', 'benchmark', 'completed', '{\"no\": \"suite\"}', ?)",
            [now()],
        )
    store = Store(path)
    crashed = store.runs.get("crashed")
    assert crashed.status == "interrupted" and crashed.status.resumable
    ghost = store.db.rows(
        "SELECT item_no, model_name, status, final FROM run_items "
        "WHERE run_id = 'old' AND question_id = 'generic-9'"
    )
    assert ghost == [(6, "ghost", "done", "boo")]  # numbered after the six planned units
    assert store.runs.get("old").total_units == 7
    assert store.db.rows("SELECT status, error FROM runs WHERE id = 'broken'") == [
        ("failed", "configuration unreadable")
    ]
    with pytest.raises(StoreError, match="cannot read"):
        store.runs.get("broken")


def test_old_judgments_keep_their_verdicts_without_probabilities(tmp_path):
    path = tmp_path / "v4.duckdb"
    _version_4_store(path)
    with duckdb.connect(str(path)) as con:
        before = con.execute("SELECT count(*) FROM judgments").fetchone()[0]
    store = Store(path)
    store.init()
    rows = store.db.rows(
        "SELECT count(*), count(expected_score), count(p_a), count(p_b), count(p_tie) "
        "FROM judgments"
    )
    assert rows[0] == (before, 0, 0, 0, 0)


def test_preferences_survive_an_upgrade_and_are_kept_by_name(tmp_path):
    path = tmp_path / "v4.duckdb"
    _version_4_store(path)
    store = Store(path)
    assert store.preferences.get("hardware_profile") is None
    store.preferences.put("hardware_profile", {"name": "box", "currency": "EUR"})
    store.preferences.put("hardware_profile", {"name": "box", "currency": "GBP"})
    assert Store(path).preferences.get("hardware_profile") == {"name": "box", "currency": "GBP"}
    assert store.db.rows("SELECT count(*) FROM preferences") == [(1,)]
