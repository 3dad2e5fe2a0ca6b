"""AppTest for the Classify page (issue 12): a dataset and a codebook imported through the
page's widgets (bad rows listed by line, nothing imported unless skipped), a codebook written
in the table editor, and a coding run started from the page with its plan, progress and
measured cost per 1,000 texts."""

import os
import re

import pytest

from core.app import classify, context, worker
from core.app.preferences import save_hardware
from core.types import HardwareProfile
from core.types.classification import CodingSpec

BILLS = b"""id,text,label
b1,A bill on hospital funding,Health
b2,A bill on income taxes,Money
b3,A bill on rural roads,Other
b4,A bill on nurse training,Health
"""
# Line 3 (b2) has no text; line 5 repeats an id.
BAD_BILLS = b"""id,text,label
b1,A bill on hospital funding,Health
b2,,Money
b3,A bill on rural roads,Other
b1,A bill on nurse training,Health
"""
CODEBOOK = b"""code,name,description,examples
H,Health,"hospitals, care",nurses|clinics
M,Money,taxes and banks,
O,Other,anything else,
"""


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """The page runs on the fake backend."""


@pytest.fixture
def in_process_worker(monkeypatch):
    """A started run is worked through at once, in this process, instead of in a background
    worker process: the test then reads a finished run."""

    def launch(run_id: str) -> int:
        worker.work(run_id)
        return os.getpid()

    monkeypatch.setattr(worker, "launch", launch)


def _plain(markdown: str) -> str:
    """Text as the reader sees it: the Markdown escapes the page adds taken out."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _errors(at) -> list[str]:
    return [_plain(e.value) for e in at.error]


def _upload_dataset(at, name: str, data: bytes):
    at.file_uploader(key="cls_ds_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception and not _errors(at), _errors(at)


def test_a_dataset_with_bad_rows_is_refused_until_they_are_skipped(open_page, store):
    at = open_page("pages/classify.py")
    _upload_dataset(at, "bad_bills.csv", BAD_BILLS)
    # The pickers start on the columns the file names id, text and label.
    assert at.selectbox(key="cls_ds_id").value == "id"
    assert at.selectbox(key="cls_ds_text").value == "text"
    assert at.selectbox(key="cls_ds_gold").value == "label"
    assert at.text_input(key="cls_ds_name").value == "bad_bills"
    at.button(key="cls_ds_import").click().run()
    (error,) = _errors(at)
    assert "bad_bills.csv: 2 invalid row(s), 2 valid; nothing was imported" in error
    assert "line 3: empty text" in error and "line 5: duplicate id 'b1'" in error
    assert "Import the valid rows and skip the invalid ones" in error
    assert store.datasets.names() == []
    at.checkbox(key="cls_ds_skip").check().run()
    at.button(key="cls_ds_import").click().run()
    assert not _errors(at), _errors(at)
    assert any("Imported 2 texts" in s.value for s in at.success)
    assert any("Skipped 2 invalid row(s)" in w.value for w in at.warning)
    assert store.datasets.text_ids("bad_bills") == ["b1", "b3"]
    shown = at.dataframe[0].value
    row = shown[shown.name == "bad_bills"].iloc[0]
    assert (row.texts, row.gold_texts, bool(row.multi_label)) == (2, 2, False)


def test_a_dataset_is_deleted_only_when_confirmed(open_page, store):
    at = open_page("pages/classify.py")
    _upload_dataset(at, "bills.csv", BILLS)
    at.button(key="cls_ds_import").click().run()
    assert store.datasets.names() == ["bills"]
    assert at.button(key="cls_ds_delete").disabled
    at.checkbox(key="cls_ds_delete_confirm_bills").check().run()
    at.button(key="cls_ds_delete").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert store.datasets.names() == []
    assert any("No dataset yet" in i.value for i in at.info)


def test_codebooks_uploaded_and_written_show_their_labels_and_hierarchy(open_page, store):
    at = open_page("pages/classify.py")
    at.file_uploader(key="cls_cb_upload").set_value(("topics.csv", CODEBOOK, "text/csv")).run()
    at.button(key="cls_cb_import").click().run()
    assert not _errors(at), _errors(at)
    assert any("Imported 3 labels into codebook “topics”" in s.value for s in at.success)
    book = store.codebooks.get("topics")
    assert book.codes == ("H", "M", "O")
    assert book.label("H").examples == ("nurses", "clinics")

    # Written in the table editor: a row whose name holds a double quote refuses the lot.
    at.text_input(key="cls_cbw_name").set_value("economy")
    at.text_area(key="cls_cbw_instructions").set_value("Code the main topic.")
    rows = [
        {"code": "E", "name": "Economy"},
        {"code": "T", "name": 'Tax "cuts"', "parent": "E"},
    ]
    at.session_state["cls_cbw_table"] = {"edited_rows": {}, "added_rows": rows, "deleted_rows": []}
    at.run()
    at.button(key="cls_cbw_save").click().run()
    (error,) = _errors(at)
    assert "line 2: name 'Tax \"cuts\"' holds a double quote" in error
    assert "economy" not in store.codebooks.names()
    rows = [
        {"code": "E", "name": "Economy", "description": "the economy as a whole"},
        {"code": "T", "name": "Taxes", "parent": "E", "examples": "income tax | VAT"},
        {"code": "B", "name": "Banks", "parent": "E"},
        {"code": "X", "name": "Other"},
    ]
    at.session_state["cls_cbw_table"] = {"edited_rows": {}, "added_rows": rows, "deleted_rows": []}
    at.run()
    at.button(key="cls_cbw_save").click().run()
    assert not _errors(at), _errors(at)
    book = store.codebooks.get("economy")
    assert [(x.code, x.parent) for x in book.labels] == [
        ("E", None),
        ("T", "E"),
        ("B", "E"),
        ("X", None),
    ]
    assert book.instructions == "Code the main topic." and book.label("T").examples == (
        "income tax",
        "VAT",
    )
    at.selectbox(key="cls_cb_pick").set_value("economy").run()
    labels = at.dataframe[-1].value
    assert list(labels.code) == ["E", "T", "B", "X"]
    assert list(labels.label) == ["Economy", "Economy › Taxes", "Economy › Banks", "Other"]
    assert list(labels.coded_with) == [False, True, True, True]


def test_a_coding_run_started_on_the_page_shows_progress_and_cost(
    open_page, store, in_process_worker
):
    # Rented at 3.60 an hour and drawing nothing: a busy second costs 0.001.
    save_hardware(HardwareProfile("rented", cost_per_hour=3.6, watts=0.0))
    at = open_page("pages/classify.py")
    _upload_dataset(at, "bills.csv", BILLS)
    at.button(key="cls_ds_import").click().run()
    at.file_uploader(key="cls_cb_upload").set_value(("topics.csv", CODEBOOK, "text/csv")).run()
    at.button(key="cls_cb_import").click().run()
    at.multiselect(key="cls_run_models").set_value(["fake-echo"]).run()
    plan = " ".join(m.value for m in at.markdown)
    assert "4 texts × 1 model = 4 units · time unknown" in plan
    start = at.button(key="cls_run_start")
    assert start.label == "Start coding (4 units, time unknown)"
    start.click().run()
    assert not at.exception and not _errors(at), _errors(at)
    (run,) = classify.runs().itertuples()
    assert (run.status, run.done_units, run.failed_units) == ("completed", 4, 0)
    proposals = classify.proposals("bills", "topics")
    assert len(proposals) == 4 and set(proposals.label) <= {"H", "M", "O"}
    assert proposals.confidence.between(0, 1).all()

    # Every text took 2 s: 2 s x 1,000 texts x 0.001 a second = 2.00 per 1,000 texts.
    store.db.execute("UPDATE run_items SET seconds = 2.0 WHERE run_id = ?", [run.id])
    at.run()
    assert any("**completed** · 4 of 4 items" in m.value for m in at.markdown)
    costs = at.dataframe[-1].value
    (coder,) = costs.itertuples()
    assert (coder.model, coder.texts, coder.seconds_per_text) == ("fake-echo", 4, 2.0)
    assert coder.money_per_1000 == pytest.approx(2.0)
    assert any("in USD" in c.value for c in at.caption)
    # The next run's time comes from this one: 4 texts x 2 s.
    assert at.button(key="cls_run_start").label == "Start coding (4 units, about 8 s)"
    # Its run controls: completed, so only Delete (once confirmed).
    assert at.button(key="cls_ctl_resume").disabled and at.button(key="cls_ctl_stop").disabled


def test_a_queued_run_shows_its_progress_and_can_be_stopped_and_resumed(
    open_page, store, in_process_worker
):
    at = open_page("pages/classify.py")
    _upload_dataset(at, "bills.csv", BILLS)
    at.button(key="cls_ds_import").click().run()
    at.file_uploader(key="cls_cb_upload").set_value(("topics.csv", CODEBOOK, "text/csv")).run()
    at.button(key="cls_cb_import").click().run()
    (model,) = [m for m in context.list_models() if m.name == "fake-echo"]
    run_id = classify.create(CodingSpec("bills", "topics", (model,), sample=3, seed=1))
    at.run()  # created, no worker yet: queued
    assert any(f"Run `{run_id[:12]}`" in m.value for m in at.markdown)
    assert any("**queued** · 0 of 3 items" in m.value for m in at.markdown)
    assert len(at.get("progress")) == 1
    assert not at.button(key="cls_ctl_stop").disabled
    at.button(key="cls_ctl_stop").click().run()
    assert not _errors(at), _errors(at)
    assert any("Stopped before it started." in i.value for i in at.info)
    assert store.runs.get(run_id).status == "stopped"
    at.button(key="cls_ctl_resume").click().run()  # the worker (here in-process) finishes it
    assert not _errors(at), _errors(at)
    assert store.runs.get(run_id).status == "completed"
    assert len(classify.proposals("bills", "topics")) == 3
    at.checkbox(key=f"cls_ctl_delete_confirm_{run_id}").check().run()
    at.button(key="cls_ctl_delete").click().run()
    assert classify.runs().empty
    assert any("No coding runs yet" in c.value for c in at.caption)
