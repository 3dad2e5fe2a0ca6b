"""`perfics classify review-stats | agreement | metrics | export` in process on the fake
backend, every figure worked out by hand from the table in tests/unit/classify_cli_data.py,
and the bad inputs of export (an existing file, the store itself, an unwritable place)."""

import errno
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.app import classify, context
from tests.unit.classify_cli_data import (
    SMOLLM2,
    answering,
    cli,
    code_bills,
    coder,
    import_files,
    review,
    scope,
    write_files,
)


@pytest.fixture(autouse=True)
def scripted_models(fake_mode, monkeypatch):
    """Every command here runs on the fake backend, each model answering from TEXTS."""
    monkeypatch.setattr(context, "open_backend", answering)


@pytest.fixture
def coded(capsys, tmp_path) -> str:
    import_files(capsys, write_files(tmp_path))
    return code_bills(capsys)


@pytest.fixture
def reviewed(coded) -> str:
    review()
    return coded


# --- review progress, agreement, metrics ---------------------------------------------------


def test_review_stats_count_by_hand(capsys, reviewed):
    code, out, _ = cli(capsys, "classify", "review-stats", *scope("--json"))
    assert code == 0
    # Coded t1–t6; ann decided t1–t4 (t4 unclear); bob t1 and t3 (t5 undone). Rule `one`:
    # every text with a clear decision is verified: t1, t2, t3.
    assert json.loads(out) == {
        "coded_texts": 6,
        "reviewed_texts": 4,
        "unclear_texts": 1,
        "verified_texts": 3,
        "rule": "one",
        "decisions_by_reviewer": {"ann": 4, "bob": 2},
        "assigned_texts": 0,
    }
    # Two agreeing reviewers: only t1 (ann and bob both H; on t3 they differ).
    code, out, _ = cli(capsys, "classify", "review-stats", *scope("--rule", "two_agree"))
    assert "verified 1 under rule 'two_agree'" in out


def test_agreement_acceptance_and_kappa_by_hand(capsys, reviewed):
    code, out, _ = cli(capsys, "classify", "agreement", *scope("--json"))
    assert code == 0
    report = json.loads(out)
    echo, smol = coder(reviewed, "fake-echo"), coder(reviewed, SMOLLM2)
    # One count per proposal and clear review of its text (t1: ann, bob; t2: ann; t3: ann,
    # bob): fake-echo H,H,M kept on t1 ×2, t2, t3 by ann = 4 of 5; SmolLM2 H,M,M kept on
    # t1 ×2 and t3 by ann = 3 of 5.
    rates = {
        a["model"]: (a["accepted"], a["rate"]["n"], a["rate"]["value"])
        for a in report["acceptance"]
    }
    assert rates == {echo: (4, 5, 0.8), smol: (3, 5, 0.6)}
    (pair,) = report["models"]
    assert {pair["coder_a"], pair["coder_b"]} == {echo, smol}
    assert pair["kappa"]["n"] == 6 and pair["kappa"]["value"] == pytest.approx(8 / 26)
    assert pair["percent_agreement"]["value"] == pytest.approx(0.5)
    # Reviewers on the texts both decided, t1 (H, H) and t3 (M, O): p_o 1/2, p_e 1/4, κ 1/3.
    (humans,) = report["humans"]
    assert {humans["coder_a"], humans["coder_b"]} == {"reviewer: ann", "reviewer: bob"}
    assert humans["kappa"]["n"] == 2 and humans["kappa"]["value"] == pytest.approx(1 / 3)
    # Against verified t1 H, t2 H, t3 M: fake-echo agrees on all; SmolLM2 (H, M, M) has
    # p_o 2/3, p_e (1·2 + 2·1)/9 = 4/9, κ = (2/3 − 4/9)/(5/9) = 2/5.
    versus = {p["coder_a"]: p["kappa"] for p in report["models_vs_verified"]}
    assert versus[echo]["value"] == pytest.approx(1.0) and versus[echo]["n"] == 3
    assert versus[smol]["value"] == pytest.approx(0.4) and versus[smol]["n"] == 3


def test_metrics_against_gold_and_verified_by_hand(capsys, reviewed):
    code, out, err = cli(capsys, "classify", "metrics", *scope("--against", "gold", "--json"))
    assert code == 0, err
    report = json.loads(out)
    overall = {r["model"]: r for r in report["overall"]}
    echo, smol = coder(reviewed, "fake-echo"), coder(reviewed, SMOLLM2)
    assert report["against"] == "gold" and set(overall) == {echo, smol}
    assert (overall[echo]["n"], overall[echo]["unanswered"]) == (6, 0)
    assert overall[echo]["accuracy"] == pytest.approx(5 / 6)
    assert overall[smol]["accuracy"] == pytest.approx(4 / 6) and overall[smol]["accuracy_n"] == 6
    # Per category, SmolLM2 on Money: gold t3, t4; it said Money on t2, t3, t4: recall 2/2,
    # precision 2/3.
    money = [r for r in report["per_category"] if r["model"] == smol and r["label"] == "M"]
    assert money[0]["sensitivity"] == pytest.approx(1.0)
    assert money[0]["precision"] == pytest.approx(2 / 3)
    code, out, _ = cli(capsys, "classify", "metrics", *scope("--json"))
    overall = {r["model"]: r for r in json.loads(out)["overall"]}
    assert overall[echo]["accuracy"] == pytest.approx(1.0) and overall[echo]["n"] == 3
    assert overall[smol]["accuracy"] == pytest.approx(2 / 3) and overall[smol]["n"] == 3


def test_runs_flag_picks_the_coders(capsys, reviewed):
    two = code_bills(capsys, "--shots", "2")
    code, out, _ = cli(capsys, "classify", "metrics", *scope("--against", "gold", "--json"))
    assert len(json.loads(out)["overall"]) == 4
    code, out, _ = cli(
        capsys, "classify", "metrics", *scope("--against", "gold", "--json", "--runs", two)
    )
    models = {r["model"]: r["accuracy"] for r in json.loads(out)["overall"]}
    assert models == {
        coder(two, "fake-echo", 2): pytest.approx(5 / 6),
        coder(two, SMOLLM2, 2): pytest.approx(4 / 6),
    }


def test_metrics_without_verified_labels_point_at_the_review_page(capsys, coded):
    code, out, err = cli(capsys, "classify", "metrics", *scope())
    assert code == 1 and out == ""
    assert "has no verified labels of codebook 'topics'" in err and "Review page" in err
    code, _, err = cli(capsys, "classify", "export", *scope("--what", "metrics", "--out", "m.csv"))
    assert code == 1 and "Review page" in err and not Path("m.csv").exists()


def test_unknown_dataset_or_codebook_in_the_reports_is_a_clear_error(capsys, reviewed, tmp_path):
    for command in ("review-stats", "agreement", "metrics"):
        code, out, err = cli(
            capsys, "classify", command, "--dataset", "nope", "--codebook", "topics"
        )
        assert (code, out) == (1, ""), command
        assert "No dataset named 'nope'" in err, command
        code, _, err = cli(capsys, "classify", command, "--dataset", "bills", "--codebook", "nope")
        assert code == 1 and "No codebook named 'nope'" in err, command
    out_file = tmp_path / "v.csv"
    code, _, err = cli(
        capsys,
        "classify",
        "export",
        "--dataset",
        "nope",
        "--codebook",
        "topics",
        "--out",
        str(out_file),
    )
    assert code == 1 and "No dataset named 'nope'" in err and not out_file.exists()


# --- export ------------------------------------------------------------------------------


def test_export_the_verified_set_as_csv(capsys, reviewed, tmp_path):
    out_file = tmp_path / "verified.csv"
    code, out, err = cli(
        capsys,
        "classify",
        "export",
        *scope("--what", "verified", "--out", str(out_file), "--json"),
    )
    assert code == 0, err
    assert json.loads(out) == {"what": "verified", "rows": 3, "out": str(out_file)}
    table = pd.read_csv(out_file, dtype=str, keep_default_na=False)
    assert list(table.columns) == [
        "text_id",
        "text",
        "labels",
        "label_names",
        "intensities",
        "reviewers",
        "verified_at",
    ]
    assert table[["text_id", "text", "labels", "label_names", "reviewers"]].values.tolist() == [
        ["t1", "hospital beds act", "H", "Health", "ann"],
        ["t2", "nurse pay act", "H", "Health", "ann"],
        ["t3", "tax cut act", "M", "Money", "ann"],
    ]
    # Two agreeing reviewers verify t1 only, with both names.
    again = tmp_path / "agreed.csv"
    cli(capsys, "classify", "export", *scope("--rule", "two_agree", "--out", str(again)))
    agreed = pd.read_csv(again, dtype=str)
    assert agreed[["text_id", "labels", "reviewers"]].values.tolist() == [["t1", "H", "ann;bob"]]


def test_export_finetuning_conversations(capsys, reviewed, tmp_path):
    out_file = tmp_path / "train.jsonl"
    code, out, err = cli(
        capsys,
        "classify",
        "export",
        *scope("--what", "finetune", "--format", "jsonl", "--out", str(out_file)),
    )
    assert code == 0 and "wrote 3 rows" in out, err
    records = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(records) == 3
    for record, (text, answer) in zip(
        records,
        [("hospital beds act", "Health"), ("nurse pay act", "Health"), ("tax cut act", "Money")],
        strict=True,
    ):
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        system, user, assistant = (m["content"] for m in record["messages"])
        assert "- Health: hospitals, care" in system and "Answer with the label only." in system
        assert (user, assistant) == (f"Text: {text}", answer)
    code, _, err = cli(
        capsys,
        "classify",
        "export",
        *scope("--what", "finetune", "--out", str(tmp_path / "t.csv")),
    )
    assert code == 1 and "--format jsonl" in err and not (tmp_path / "t.csv").exists()


def test_export_metric_and_agreement_tables(capsys, reviewed, tmp_path):
    metrics_csv = tmp_path / "metrics.csv"
    code, _, err = cli(
        capsys, "classify", "export", *scope("--what", "metrics", "--out", str(metrics_csv))
    )
    assert code == 0, err
    table = pd.read_csv(metrics_csv)
    overall = table[table.label == "all"].set_index("model")
    echo, smol = coder(reviewed, "fake-echo"), coder(reviewed, SMOLLM2)
    assert set(overall.index) == {echo, smol}  # against the verified t1–t3
    assert overall.loc[echo, "accuracy"] == pytest.approx(1.0)
    assert overall.loc[smol, "accuracy"] == pytest.approx(2 / 3)
    assert overall.loc[smol, "n"] == 3
    assert len(table) == 2 + 2 * 3  # per model: one overall row and one per label
    gold_csv = tmp_path / "metrics-gold.csv"
    args = scope("--what", "metrics", "--against", "gold", "--out", str(gold_csv))
    assert cli(capsys, "classify", "export", *args)[0] == 0
    gold = pd.read_csv(gold_csv)
    gold = gold[gold.label == "all"].set_index("model")
    assert gold.loc[echo, "accuracy"] == pytest.approx(5 / 6)  # against gold, n=6
    assert gold.loc[smol, "accuracy"] == pytest.approx(4 / 6) and gold.loc[smol, "n"] == 6

    agreement_csv = tmp_path / "agreement.csv"
    code, out, err = cli(
        capsys, "classify", "export", *scope("--what", "agreement", "--out", str(agreement_csv))
    )
    assert code == 0 and "wrote 4 rows" in out, err
    pairs = pd.read_csv(agreement_csv)
    kappa = {frozenset((r.coder_a, r.coder_b)): (r.kappa, r.kappa_n) for r in pairs.itertuples()}
    assert kappa[frozenset(("reviewer: ann", "reviewer: bob"))] == (pytest.approx(1 / 3), 2)
    assert kappa[frozenset((echo, "verified"))] == (pytest.approx(1.0), 3)
    assert kappa[frozenset((smol, "verified"))] == (pytest.approx(0.4), 3)
    assert kappa[frozenset((echo, smol))] == (pytest.approx(8 / 26), 6)


def test_export_refuses_an_existing_file_unless_forced(capsys, reviewed, tmp_path):
    out_file = tmp_path / "verified.csv"
    out_file.write_text("keep me\n")
    args = scope("--out", str(out_file))
    code, out, err = cli(capsys, "classify", "export", *args)
    assert code == 1 and out == "" and "exists already" in err and "--force" in err
    assert out_file.read_text() == "keep me\n"
    code, out, err = cli(capsys, "classify", "export", *args, "--force")
    assert code == 0 and "wrote 3 rows" in out, err
    assert pd.read_csv(out_file).text_id.tolist() == ["t1", "t2", "t3"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_export_refuses_to_write_over_the_store(capsys, reviewed, store, monkeypatch):
    db = Path(context.settings().db)
    before = db.read_bytes()
    wal = Path(str(db) + ".wal")
    for target, force in ((db, []), (db, ["--force"]), (wal, ["--force"])):
        code, out, err = cli(capsys, "classify", "export", *scope("--out", str(target)), *force)
        assert code == 1 and out == "", target
        assert "is the results database itself" in err and "--force" not in err
    # The same file by another spelling is still the store.
    monkeypatch.chdir(db.parent)
    code, _, err = cli(capsys, "classify", "export", *scope("--out", db.name, "--force"))
    assert code == 1 and "is the results database itself" in err
    assert db.read_bytes() == before
    assert classify.review_stats("bills", "topics").verified_texts == 3  # still opens
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cls_texts").fetchone() == (6,)


def test_export_to_an_unwritable_place_leaves_no_file(capsys, reviewed, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out_file = blocker / "verified.csv"
    code, out, err = cli(capsys, "classify", "export", *scope("--out", str(out_file)))
    assert code == 1 and out == ""
    assert err.startswith(f"error: Cannot write {out_file}") and "Traceback" not in err
    assert blocker.read_text() == "not a folder"

    # A disk that fills half-way through: no half file, and the old file stays as it was.
    target = tmp_path / "verified.csv"
    target.write_text("old\n")

    real_write = Path.write_bytes

    def half_then_full(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    code, _, err = cli(capsys, "classify", "export", *scope("--out", str(target), "--force"))
    assert code == 1 and "No space left on device" in err and "Traceback" not in err
    assert target.read_text() == "old\n"
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*.partial"))
