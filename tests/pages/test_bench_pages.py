"""AppTest for the Benchmarks, Results and Arena pages."""

import io
import time

import pandas as pd
import pytest

from core.app import context
from core.app.results import results
from core.app.runs import overview
from core.evaluation.arena import votes


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every page here runs on the fake backend."""


def test_benchmarks_page_starts_a_background_run_that_finishes(open_page):
    at = open_page("pages/benchmarks.py")
    assert "builtin" in list(at.dataframe[0].value.name)
    at.number_input(key="bench_limit").set_value(2)
    at.number_input(key="bench_rounds").set_value(1)
    at.button(key="bench_start").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Started run" in s.value for s in at.success)
    # The default judge is the instruction-tuned model, not a base model, and the page says why.
    models = {m.name: m for m in context.list_models()}
    chosen = models[at.selectbox(key="bench_judge").value]
    assert chosen.has_chat_template or not any(m.has_chat_template for m in models.values())
    assert any("instruction-tuned" in c.value for c in at.caption)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and overview().status[0] != "completed":
        time.sleep(0.5)
    runs = overview()
    assert runs.status[0] == "completed", runs.to_dict()
    assert runs.items_done[0] == runs.total[0] == 2 * 2 + 2  # 2 questions x (2 answers + 1 pair)
    at.run()
    table = at.dataframe[-1].value
    assert list(table.status) == ["completed"]
    assert any("**completed** · 6 of 6 items" in m.value for m in at.markdown)


def test_benchmarks_default_to_the_papers_fixed_rounds_and_a_balanced_sample(open_page, store):
    at = open_page("pages/benchmarks.py")
    box = at.checkbox(key="bench_stop_early")
    assert box.value is False and "paper's fixed-round protocol" in box.help
    assert "spread over the categories" in at.number_input(key="bench_limit").help
    at.number_input(key="bench_limit").set_value(9)
    at.number_input(key="bench_sample_seed").set_value(2)
    at.multiselect(key="bench_models").set_value(["fake-echo"])
    at.selectbox(key="bench_judge").set_value("(no judge)")
    at.button(key="bench_start").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    config = store.runs.get(overview().id[0]).config
    assert (config.stop_early, config.sample_seed, len(config.question_ids)) == (False, 2, 9)


def test_bad_run_request_shows_an_error_and_cannot_start(open_page):
    at = open_page("pages/benchmarks.py")
    at.multiselect(key="bench_models").set_value([]).run()
    assert "at least one model" in at.error[0].value
    assert at.button(key="bench_start").disabled


def test_results_page_shows_scores_with_intervals_and_drill_down(open_page, judged_run):
    at = open_page("pages/results.py")
    table = at.dataframe[0].value
    assert set(table.model) == {"fake-echo", "fake-two"}
    assert "all" in set(table.category)
    report = results(judged_run)
    verdict, judge = report.reliability.verdict, report.judge.name
    score = f"baseline score · judge {verdict}"  # every judge-based column names the verdict
    assert table[score].str.contains(r"\[").any()  # a confidence interval
    shown = [m.value for m in [*at.caption, *at.warning, *at.error]]
    assert any(m.startswith(f"Judge {judge}: **{verdict}**") for m in shown), shown
    texts = [m.value for m in at.markdown]
    assert any(t.startswith("**Baseline**") for t in texts)
    assert any(t.startswith("**Question:**") for t in texts)


def test_results_download_holds_numbers(judged_run):
    """The CSV the Results page offers: value, low, high and n as numeric columns."""
    summary = results(judged_run).summary
    back = pd.read_csv(io.StringIO(summary.to_csv(index=False)))
    for column in ("baseline_score", "baseline_score_low", "baseline_score_high"):
        assert pd.api.types.is_float_dtype(back[column]), column
    assert pd.api.types.is_integer_dtype(back["baseline_score_n"])
    assert back.baseline_score.notna().any()


def test_arena_vote_is_stored_and_rated(open_page, store, judged_run):
    at = open_page("pages/arena.py")
    at.radio(key="arena_mode").set_value("model_vs_model").run()
    assert "**A**" in [m.value for m in at.markdown]
    at.button(key="arena_vote_left").click().run()
    assert not at.exception
    stored = votes(store, judged_run)
    assert list(stored.vote) == ["left"]
    assert any("Recorded." in c.value for c in at.caption)
    ratings = at.dataframe[-1].value
    assert set(ratings.answer) == {"fake-echo", "fake-two"}


def test_pages_explain_when_there_are_no_runs(open_page):
    for path in ("pages/results.py", "pages/arena.py"):
        at = open_page(path)
        assert "No benchmark runs yet" in at.info[0].value
