"""`perfics classify import | codebook | run` in process on the fake backend, with their bad
inputs. The data and the two scripted models: tests/unit/classify_cli_data.py."""

import json

import pytest

from core.app import classify, context
from core.evaluation.benchmark import create_run
from tests.support import bench_spec
from tests.unit.classify_cli_data import (
    ANSWER_COLUMN,
    SMOLLM2,
    TEXTS,
    answering,
    cli,
    code_bills,
    import_args,
    import_files,
    write_csv,
    write_files,
)


@pytest.fixture(autouse=True)
def scripted_models(fake_mode, monkeypatch):
    """Every command here runs on the fake backend, each model answering from TEXTS."""
    monkeypatch.setattr(context, "open_backend", answering)


@pytest.fixture
def files(tmp_path):
    return write_files(tmp_path)


@pytest.fixture
def imported(capsys, files) -> None:
    import_files(capsys, files)


@pytest.fixture
def coded(capsys, imported) -> str:
    return code_bills(capsys)


# --- import and codebook ---------------------------------------------------------------


def test_import_a_csv_with_gold_labels_and_list_datasets(capsys, files):
    code, out, err = cli(
        capsys, *import_args(files["bills"], "bills", "--gold-column", "major", "--json")
    )
    assert code == 0, err
    info = json.loads(out)
    assert (info["name"], info["texts"], info["gold_texts"]) == ("bills", 6, 6)
    assert info["multi_label"] is False and info["skipped"] == []
    code, out, err = cli(capsys, "classify", "import", "--list", "--json")
    assert code == 0, err
    (listed,) = json.loads(out)
    assert (listed["name"], listed["texts"], listed["gold_texts"]) == ("bills", 6, 6)
    # The same name again is refused; the stored texts stay.
    code, _, err = cli(capsys, *import_args(files["bills"], "bills"))
    assert code == 1 and "A dataset named 'bills' exists already" in err
    assert context.store().datasets.info("bills").gold_texts == 6


def test_import_without_the_columns_to_read_is_a_clear_error(capsys, files):
    code, _, err = cli(capsys, "classify", "import", str(files["bills"]), "--name", "bills")
    assert code == 1 and "--id-column" in err and "Traceback" not in err
    wrong = ["--id-column", "id", "--text-column", "body"]
    code, _, err = cli(capsys, "classify", "import", str(files["bills"]), "--name", "x", *wrong)
    assert code == 1 and "line 1: no column 'body'" in err
    assert "'id', 'title', 'major'" in err
    assert context.store().datasets.names() == []


def test_bad_rows_refuse_the_file_unless_skipped(capsys, tmp_path):
    bad = write_csv(
        tmp_path / "bad.csv",
        ["id", "title", "major"],
        [["a", "first act", "H"], ["a", "again", "H"], ["b", "", "M"], ["c", "third act", "O"]],
    )
    code, out, err = cli(capsys, *import_args(bad, "bad", "--gold-column", "major"))
    assert code == 1 and out == ""
    assert "2 invalid row(s), 2 valid; nothing was imported" in err
    assert "line 3: duplicate id 'a' (first on line 2)" in err
    assert "line 4: empty text (column 'title')" in err
    assert "--skip-invalid" in err
    assert json.loads(cli(capsys, "classify", "import", "--list", "--json")[1]) == []

    code, out, err = cli(
        capsys, *import_args(bad, "bad", "--gold-column", "major", "--skip-invalid")
    )
    assert code == 0, err
    assert "skipped line 3: duplicate id 'a'" in err and "skipped line 4: empty text" in err
    assert "dataset bad: 2 texts, 2 with gold labels; 2 row(s) skipped" in out
    texts = context.store().datasets.texts("bad")
    assert [(t.id, t.text) for t in texts] == [("a", "first act"), ("c", "third act")]


def test_a_file_with_no_valid_row_is_refused_even_when_skipping(capsys, tmp_path):
    bad = write_csv(tmp_path / "none.csv", ["id", "title"], [["a", ""], ["", "x"]])
    code, _, err = cli(capsys, *import_args(bad, "none", "--skip-invalid"))
    assert code == 1 and "No row is valid" in err
    assert context.store().datasets.names() == []


def test_codebook_import_round_trips_and_lists(capsys, files):
    code, _, err = cli(capsys, "classify", "codebook", str(files["book"]), "--name", "topics")
    assert code == 0 and "codebook topics: 3 labels" in err
    code, out, _ = cli(capsys, "classify", "codebook", "--name", "topics", "--json")
    book = json.loads(out)
    assert book["name"] == "topics"
    assert [(x["code"], x["name"], x["description"]) for x in book["labels"]] == [
        ("H", "Health", "hospitals, care"),
        ("M", "Money", "taxes, banks"),
        ("O", "Other", ""),
    ]
    assert all(x["parent"] is None and x["examples"] == [] for x in book["labels"])
    code, out, _ = cli(capsys, "classify", "codebook", "--json")
    (listed,) = json.loads(out)
    assert (listed["name"], listed["labels"], listed["with_parent"]) == ("topics", 3, 0)


def test_codebook_bad_inputs(capsys, files, tmp_path):
    code, _, err = cli(capsys, "classify", "codebook", str(files["book"]))
    assert code == 1 and "--name is needed" in err
    code, _, err = cli(capsys, "classify", "codebook", "--name", "nope")
    assert code == 1 and "No codebook named 'nope'" in err
    one = write_csv(tmp_path / "one.csv", ["code", "name"], [["A", "Alpha"], ["A", "Again"]])
    code, _, err = cli(capsys, "classify", "codebook", str(one), "--name", "one")
    assert code == 1 and "line 3: duplicate code 'A' (first on line 2)" in err
    assert context.store().codebooks.names() == []


# --- runs ------------------------------------------------------------------------------


def test_zero_shot_and_two_shot_runs_of_two_models(capsys, imported, store, monkeypatch):
    zero = code_bills(capsys)
    opened = []  # the two-shot run's backends, to read the prompts they were given
    monkeypatch.setattr(
        context, "open_backend", lambda *a: opened.append(answering(*a)) or opened[-1]
    )
    two = code_bills(capsys, "--shots", "2")
    code, out, _ = cli(capsys, "classify", "run", "--list", "--json")
    assert code == 0
    listed = {r["id"]: r for r in json.loads(out)}
    assert set(listed) == {zero, two}
    for run_id, shots in ((zero, 0), (two, 2)):
        row = listed[run_id]
        assert (row["status"], row["shots"], row["texts"]) == ("completed", shots, 6)
        assert (row["total_units"], row["done_units"], row["failed_units"]) == (12, 12, 0)
        assert row["models"] == f"{SMOLLM2}, fake-echo"
    # Each model wrote its own column of TEXTS, examples or not.
    proposals = classify.proposals("bills", "topics")
    for run_id in (zero, two):
        mine = proposals[proposals.run_id == run_id]
        for model, column in ANSWER_COLUMN.items():
            got = dict(mine[mine.model == model][["text_id", "label"]].itertuples(index=False))
            wanted = {tid: row[column][0] for tid, row in TEXTS.items()}
            assert got == wanted, (run_id, model)
    # Two examples are earlier turns of every two-shot prompt, never the text being coded.
    config = store.runs.get(two).config
    assert config.shots == 2 and len(config.examples) == 3
    assert sorted(b.info.name for b in opened) == [SMOLLM2, "fake-echo"]
    for backend in opened:
        coded_texts = [
            p.rsplit("Text: ", 1)[1].removesuffix("\n\nAssistant:") for p in backend.prompts
        ]
        assert sorted(set(coded_texts)) == sorted(text for text, *_ in TEXTS.values())
        for prompt, text in zip(backend.prompts, coded_texts, strict=True):
            shown = prompt.split("Text: ")[1:-1]
            assert len(shown) == 2 and not any(s.startswith(text + "\n") for s in shown)


def test_resuming_a_completed_run_says_so(capsys, coded, store):
    code, out, err = cli(capsys, "classify", "run", "--resume", coded, "--quiet")
    assert code == 0 and f"run {coded} is already completed" in err and out == ""
    assert store.runs.get(coded).status == "completed"
    assert len(classify.proposals("bills", "topics")) == 12  # nothing coded twice


def test_resume_refuses_a_run_that_is_not_a_coding_run(capsys, store):
    store.init()
    run_id = create_run(store, bench_spec(), "fake")  # queued, as if its worker died
    code, out, err = cli(capsys, "classify", "run", "--resume", run_id, "--quiet")
    assert code == 1 and out == ""
    assert f"Run {run_id} is a benchmark run, not a coding run" in err
    assert "perfics run --resume" in err
    assert store.runs.get(run_id).status == "queued"  # left as it was: not worked through


def test_bad_run_requests_are_clear_errors(capsys, imported):
    base = ["classify", "run", "--codebook", "topics", "--models", "fake-echo", "--quiet"]
    code, _, err = cli(capsys, *base, "--dataset", "bills", "--intensities")
    assert code == 1 and "Intensities are rated in multi-label coding only" in err
    code, _, err = cli(capsys, *base, "--dataset", "nope")
    assert code == 1 and "No dataset named 'nope'; import it first" in err
    code, _, err = cli(capsys, *base, "--dataset", "bills", "--shots", "6")
    assert code == 1 and "6-shot coding needs at least 7 texts" in err
    code, _, err = cli(capsys, "classify", "run", "--dataset", "bills", "--codebook", "topics")
    assert code == 1 and "--models" in err
    code, _, err = cli(capsys, "classify", "run", "--resume", "no-such-run")
    assert code == 1 and "no-such-run" in err
    assert classify.runs().empty
