"""AppTest for the Learn page (issue 13) on the fake backend and the fake embedder: a curve
planned and started from the page's widgets, then its progress, chart, table and comparison
with their CSV downloads; a stopped curve resumed and a curve deleted from the page."""

import io
import os

import pandas as pd
import pytest

from core.app import context, learn_curve, worker
from core.app.classify_results import table_bytes
from core.evaluation.lifecycle import RunStopped
from core.types import RunStatus
from pages.components.curve_view import METRICS
from tests.unit.curve_support import example_learner, fill, spec


@pytest.fixture(autouse=True)
def fruit(fake_mode, store, monkeypatch):
    fill(store)
    monkeypatch.setattr(context, "open_backend", lambda info, cfg=None: example_learner(info))
    return store


@pytest.fixture
def in_process_worker(monkeypatch):
    """A started curve is measured at once, in this process, not in a background worker."""

    def launch(run_id: str) -> int:
        worker.work(run_id)
        return os.getpid()

    monkeypatch.setattr(worker, "launch", launch)


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _downloads(at) -> dict:
    return {b.proto.label: b for b in at.get("download_button")}


def test_a_curve_is_planned_started_and_shown_with_its_comparison(open_page, in_process_worker):
    at = open_page("pages/learn.py")
    # Verified labels are the default and there are none yet: the plan says so.
    assert any("verified labels" in e for e in _errors(at)), _errors(at)
    assert at.button(key="learn_start").disabled
    at.multiselect(key="learn_models").set_value(["fake-echo"])
    at.radio(key="learn_source").set_value("gold")
    at.multiselect(key="learn_sizes").set_value([0, 8])
    at.number_input(key="learn_repeats").set_value(2)
    at.number_input(key="learn_k").set_value(2)
    at.number_input(key="learn_held").set_value(12).run()
    assert not at.exception and not _errors(at), _errors(at)
    plan = " ".join(m.value for m in at.markdown)
    assert "12 held-out texts, a pool of 48 to learn from; n = 0, 8, 48; 8 points" in plan
    start = at.button(key="learn_start")
    assert start.label == "Start curve (8 points)" and not start.disabled
    start.click().run()
    assert not at.exception and not _errors(at), _errors(at)
    (run_id,) = learn_curve.curves().id
    assert "**completed** · 8 of 8 points" in " ".join(m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    assert len(at.dataframe) == 3  # the curve's table, the comparison, the ranking
    shown = at.dataframe[0].value
    assert len(shown) == 6 and set(shown.method) == {"k-shot", "probe"}
    assert not _downloads(at)["Download the table (CSV)"].proto.disabled
    # What that button offers: every headline metric with its interval, per model, method, n.
    csv = pd.read_csv(io.BytesIO(table_bytes(learn_curve.table(run_id, METRICS), "csv")))
    assert {"accuracy", "accuracy_low", "macro_f1_high", "repeats", "n_texts"} <= set(csv.columns)
    assert len(csv) == 6
    compare = at.dataframe[1].value
    assert list(compare.method) == ["base", "kshot", "probe"]
    assert list(compare.n_train) == [0, 48, 48]
    ranked = at.dataframe[2].value
    assert sorted(ranked["rank"]) == [1, 2, 3]
    at.selectbox(key="learn_compare_n").set_value(8).run()
    assert list(at.dataframe[1].value.n_train) == [0, 8, 8]
    assert not _downloads(at)["Download the comparison (CSV)"].proto.disabled
    assert learn_curve.progress(run_id).status == RunStatus.COMPLETED


def test_a_stopped_curve_resumes_and_a_curve_is_deleted_from_the_page(
    open_page, in_process_worker, fruit
):
    run_id = learn_curve.create_curve(spec(sizes=(0, 8), repeats=2))

    def stop(done, total, eta):
        if done == 3:
            fruit.runs.request_stop(run_id)
            raise RunStopped

    with pytest.raises(RunStopped):
        worker.work(run_id, stop)
    at = open_page("pages/learn.py")
    at.radio(key="learn_source").set_value("gold").run()  # a valid form, so no error above
    assert "**stopped** · 3 of 8 points" in " ".join(m.value for m in at.markdown)
    at.button(key="learn_ctl_resume").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert learn_curve.progress(run_id).status == RunStatus.COMPLETED
    assert len(fruit.curves.points(run_id)) == 8 * 7
    at.checkbox(key=f"learn_ctl_delete_confirm_{run_id}").check().run()
    at.button(key="learn_ctl_delete").click().run()
    assert not at.exception
    assert learn_curve.curves().empty and not learn_curve.cache_dir(run_id).exists()
    assert any(f"Deleted run {run_id}" in i.value for i in at.info)
