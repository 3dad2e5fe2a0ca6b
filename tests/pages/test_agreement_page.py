"""AppTest for the Agreement & metrics page (issue 12) on the fake backend, with coders whose
answers are scripted so every figure can be worked out by hand:

six bills, three on health (t1, t3, t5) and three on money (t2, t4, t6). SmolLM2 (fake) labels
each by its topic; Gemma (fake) says Health to all. Ann decides all six by topic; Bob decides
t1-t4 and calls t3 Money. Under the one-reviewer rule the verified labels are Ann's (she
decided first)."""

import io
import json

import pandas as pd
import pytest

from core.app import classify, classify_results, context, worker
from core.engine.fake import FakeBackend
from core.errors import InvalidRequest
from core.types.classification import (
    Codebook,
    CodebookLabel,
    CodingSpec,
    LabelValue,
    TextRecord,
)
from tests.support import GEMMA, SMOLLM2, last_turn

TOPIC = {"t1": "H", "t2": "M", "t3": "H", "t4": "M", "t5": "H", "t6": "M"}
BOB = {"t1": "H", "t2": "M", "t3": "M", "t4": "M"}
BOOK = Codebook(
    "topics",
    (CodebookLabel("H", "Health"), CodebookLabel("M", "Money"), CodebookLabel("O", "Other")),
)


def _topical(prompt: str) -> str:
    return "Health" if "health" in last_turn(prompt) else "Money"


@pytest.fixture
def scripted_models(fake_mode, monkeypatch):
    """The fake backend under both default models' names (their real files, so their sizes
    are known), answering as the module docstring says."""
    responders = {SMOLLM2: _topical, GEMMA: lambda prompt: "Health"}
    monkeypatch.setattr(
        context,
        "open_backend",
        lambda info, cfg=None: FakeBackend(info=info, responder=responders[info.name]),
    )


def _coded(store, gold: bool = True, book: Codebook = BOOK) -> str:
    store.init()
    texts = [
        TextRecord(
            tid,
            f"A bill on {'health care' if code == 'H' else 'money and taxes'} ({tid})",
            (LabelValue(code),) if gold else (),
        )
        for tid, code in TOPIC.items()
    ]
    store.datasets.save("bills", "memory", texts)
    store.codebooks.save(book, "memory")
    models = tuple(m for m in context.list_models() if m.name in (SMOLLM2, GEMMA))
    run_id = classify.create(CodingSpec("bills", book.name, models))
    assert str(worker.work(run_id)) == "completed"
    return run_id


def _reviewed(store) -> str:
    run_id = _coded(store)
    for tid, code in TOPIC.items():
        classify.decide("bills", "topics", tid, "ann", [LabelValue(code)])
    for tid, code in BOB.items():
        classify.decide("bills", "topics", tid, "bob", [LabelValue(code)])
    return run_id


def _table(at, column: str):
    """The first dataframe on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _coder(table, column: str, model: str):
    return table[table[column].str.startswith(model)].iloc[0]


def test_acceptance_kappas_and_downloads_match_the_hand_counts(open_page, store, scripted_models):
    _reviewed(store)
    at = open_page("pages/agreement.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    acceptance = _table(at, "acceptance rate [95 % CI]")
    # SmolLM2: Ann's six decisions keep its label; Bob's four keep three (t3 he calls Money).
    smol = _coder(acceptance, "model", SMOLLM2)
    assert (smol.accepted, smol["reviewed (n)"]) == (9, 10)
    assert smol["acceptance rate [95 % CI]"].startswith("90.0 % [")
    # Gemma's Health for all: Ann keeps it on t1, t3, t5; Bob on t1 only.
    gemma = _coder(acceptance, "model", GEMMA)
    assert (gemma.accepted, gemma["reviewed (n)"]) == (4, 10)
    assert gemma["acceptance rate [95 % CI]"].startswith("40.0 % [")

    kappas = [d.value for d in at.dataframe if "Cohen's κ [95 % CI]" in d.value.columns]
    humans, versus, models = kappas
    # Ann H M H M, Bob H M M M on t1-t4: p_o = 3/4, p_e = 1/2·1/4 + 1/2·3/4 = 1/2, κ = 1/2.
    assert list(humans["texts (n)"]) == [4]
    assert humans["Cohen's κ [95 % CI]"][0].startswith("0.500")
    # Against the verified (Ann's) labels SmolLM2 agrees on all six: κ = 1. Gemma's constant
    # answer agrees no more than chance: p_o = 1/2 = p_e, κ = 0.
    assert _coder(versus, "coder A", SMOLLM2)["Cohen's κ [95 % CI]"].startswith("1.000")
    assert _coder(versus, "coder A", GEMMA)["Cohen's κ [95 % CI]"].startswith("0.000")
    assert list(models["texts (n)"]) == [6]
    groups = _table(at, "Fleiss' κ [95 % CI]")
    assert list(groups.coders) == ["2 reviewers", "2 models"]

    overall = _table(at, "accuracy [95 % CI]")
    assert _coder(overall, "model", SMOLLM2)["accuracy [95 % CI]"].startswith("1.000")
    assert _coder(overall, "model", GEMMA)["accuracy [95 % CI]"].startswith("0.500")
    assert list(overall["texts (n)"]) == [6, 6]
    assert len(at.get("plotly_chart")) == 3  # by category, by size, confusion matrix
    # Undefined values read n/a, with the reason under the table, never NaN: Gemma never says
    # Money, so its precision there is undefined; nobody says Other, so its κ is.
    categories = _table(at, "support")
    money = categories[categories.label == "Money"]
    assert _coder(money, "model", GEMMA)["precision [95 % CI]"] == "n/a"
    captions = " ".join(c.value for c in at.caption)
    assert "the model never gave this label" in captions
    assert "chance agreement is 1" in captions
    for frame in at.dataframe:
        cells = frame.value.astype(str)
        assert not cells.isin(["nan", "None", "NaN"]).any().any(), frame.value

    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    assert set(buttons) == {
        "Verified set (CSV)",
        "Verified set (Parquet)",
        "Fine-tuning (JSONL)",
        "Agreement (CSV)",
        "Metrics (CSV)",
    }
    assert not any(b.disabled for b in buttons.values())


def test_gold_reference_and_chart_pickers(open_page, store, scripted_models):
    _reviewed(store)
    at = open_page("pages/agreement.py")
    at.radio(key="agree_against").set_value("gold").run()
    assert not at.exception and not at.error
    assert "against the gold labels" in " ".join(s.value for s in at.subheader)
    at.selectbox(key="agree_chart_metric").set_value("specificity").run()
    at.radio(key="agree_size_axis").set_value("parameters_m").run()
    assert not at.exception and len(at.get("plotly_chart")) == 3


def test_without_runs_the_page_sends_you_to_classify(open_page, store, fake_mode):
    at = open_page("pages/agreement.py")
    assert "Classify page" in at.info[0].value


def test_without_reviews_the_page_sends_you_to_review(open_page, store, scripted_models):
    _coded(store, gold=False)
    at = open_page("pages/agreement.py")
    assert not at.exception and not at.error
    infos = " ".join(i.value for i in at.info)
    assert "Review page" in infos and "no verified labels" in infos
    assert [r.options for r in at.radio if r.key == "agree_against"] == [["Verified labels"]]
    assert [b.proto.disabled for b in at.get("download_button")] == [True, True, True, False, True]


def test_rolling_up_to_major_labels_counts_a_sibling_label_as_right(
    open_page, store, scripted_models
):
    """Health and Welfare are both under Social. Ann calls t1 Welfare where SmolLM2 said
    Health: wrong among the leaves (5 of 6 right), right among the major labels (6 of 6)."""
    book = Codebook(
        "social",
        (
            CodebookLabel("S", "Social"),
            CodebookLabel("H", "Health", parent="S"),
            CodebookLabel("W", "Welfare", parent="S"),
            CodebookLabel("M", "Money"),
        ),
    )
    _coded(store, gold=False, book=book)
    for tid, code in TOPIC.items():
        classify.decide("bills", "social", tid, "ann", [LabelValue("W" if tid == "t1" else code)])
    at = open_page("pages/agreement.py")
    smol = _coder(_table(at, "accuracy [95 % CI]"), "model", SMOLLM2)
    assert smol["accuracy [95 % CI]"].startswith("0.833")
    at.checkbox(key="agree_major").check().run()
    assert not at.exception and not at.error
    smol = _coder(_table(at, "accuracy [95 % CI]"), "model", SMOLLM2)
    assert smol["accuracy [95 % CI]"].startswith("1.000")
    categories = _table(at, "support")
    assert set(categories.label) == {"Social", "Money"}


def test_downloads_are_the_export_files_built_in_memory(store, scripted_models, tmp_path):
    _reviewed(store)
    verified = classify_results.verified_table("bills", "topics")
    parquet = pd.read_parquet(io.BytesIO(classify_results.table_bytes(verified, "parquet")))
    assert dict(zip(parquet.text_id, parquet.labels, strict=True)) == TOPIC  # Ann's labels
    csv = classify_results.table_bytes(verified, "csv")
    classify_results.export("bills", "topics", "verified", tmp_path / "v.csv")
    assert (tmp_path / "v.csv").read_bytes() == csv
    records = classify_results.finetune_records("bills", "topics")
    lines = classify_results.table_bytes(records, "jsonl").decode().splitlines()
    answers = [json.loads(line)["messages"][-1]["content"] for line in lines]
    assert answers == ["Health" if code == "H" else "Money" for code in TOPIC.values()]
    with pytest.raises(InvalidRequest, match="csv, parquet or jsonl"):
        classify_results.table_bytes(verified, "xlsx")
