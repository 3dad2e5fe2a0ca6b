"""Migration 8 on a store written by version 7: questions gain a choices column (NULL for the
open questions already there) and likelihood runs get their table; nothing else changes."""

import duckdb

from core.engine.fake import FAKE_INFO
from core.evaluation.likelihood import create_likelihood_run, run_likelihood
from core.evaluation.suites import load_file
from core.store import Store
from core.store.duck import now
from core.store.migrations import MIGRATIONS
from core.types import LikelihoodSpec
from tests.support import DATA, fake_pool


def _version_7_store(path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
            "applied_at TIMESTAMP)"
        )
        for version, migration in enumerate(MIGRATIONS[:7], start=1):
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [version, migration.__name__, now()]
            )
        con.execute("INSERT INTO suites VALUES ('old', 'test', ?)", [now()])
        con.execute(
            "INSERT INTO questions VALUES ('old', 'q1', 0, 'math', 'Six times seven?', '[]', "
            "'42', 'numeric', 0.01)"
        )


def _columns(store: Store, table: str) -> dict[str, str]:
    rows = store.db.rows(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table],
    )
    return dict(rows)


def test_version_7_store_gains_choices_and_the_likelihood_table(tmp_path):
    path = tmp_path / "v7.duckdb"
    _version_7_store(path)
    store = Store(path)
    assert store.init() == len(MIGRATIONS) >= 8
    assert store.db.rows("SELECT name FROM schema_version WHERE version = 8") == [
        ("_m008_likelihood",)
    ]
    assert _columns(store, "questions")["choices"] == "JSON"
    assert _columns(store, "likelihood_scores") == {
        "run_id": "VARCHAR",
        "item_no": "INTEGER",
        "choice": "INTEGER",
        "text": "VARCHAR",
        "is_answer": "BOOLEAN",
        "logprob": "DOUBLE",
        "n_tokens": "INTEGER",
        "n_bytes": "INTEGER",
        "n_chars": "INTEGER",
        "context_tokens": "INTEGER",
    }
    (old,) = store.suites.questions("old")
    assert (old.reference, old.reference_kind, old.choices) == ("42", "numeric", ())


def test_a_migrated_store_scores_likelihood_and_deletes_a_run_whole(tmp_path):
    path = tmp_path / "v7.duckdb"
    _version_7_store(path)
    store = Store(path)
    questions, _ = load_file(DATA / "mc_simple.jsonl")
    store.suites.save("mc", "test", questions)
    old_run = create_likelihood_run(store, LikelihoodSpec("old", (FAKE_INFO,)), "test")
    mc_run = create_likelihood_run(store, LikelihoodSpec("mc", (FAKE_INFO,)), "test")
    for run_id in (old_run, mc_run):
        run_likelihood(store, run_id, fake_pool())
    count = "SELECT count(*) FROM likelihood_scores WHERE run_id = ?"
    assert store.db.rows(count, [old_run]) == [(1,)]  # the reference answer " 42"
    assert store.db.rows(count, [mc_run]) == [(18 * 4,)]  # every choice of every question
    store.runs.delete(mc_run)
    assert store.db.rows(count, [mc_run]) == [(0,)]
    assert store.db.rows(count, [old_run]) == [(1,)]
