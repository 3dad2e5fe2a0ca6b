"""AppTest for the Refine page: live run, compare mode, history reload and failures."""

import pytest
from streamlit.testing.v1 import AppTest

from core.app import context
from core.engine.fake import FakeBackend
from tests.support import SMOLLM2, scripted


def _submit(at: AppTest, prompt="Tell me a fact.", rounds=2, compare=False) -> AppTest:
    at.text_area(key="refine_prompt").set_value(prompt)
    at.number_input(key="refine_rounds").set_value(rounds)
    at.slider(key="refine_temperature").set_value(0.0)
    at.number_input(key="refine_max_tokens").set_value(96)
    at.toggle(key="refine_compare").set_value(compare)
    at.button(key="FormSubmitter:refine_form-Refine").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


@pytest.fixture
def scripted_fake(monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setattr(
        context, "open_backend", lambda info, cfg=None: FakeBackend(info=info, responder=scripted())
    )


def test_live_refinement_fills_both_columns_and_is_stored(open_page, store, scripted_fake):
    at = _submit(open_page("pages/refine.py"))
    texts = _texts(at)
    assert "**Baseline**" in texts and "**Refined**" in texts
    assert "first answer" in texts and "better answer 2" in texts
    assert [e.label for e in at.expander if e.label.startswith("Round")] == [
        "Round 1 critique",
        "Round 2 critique",
    ]
    assert any("all requested rounds ran" in c.value for c in at.caption)
    assert any("green-background" in t for t in texts)  # the word diff
    tokens_table = at.dataframe[-1].value
    assert list(tokens_table["kind"]) == ["baseline", "critique", "verdict", "refined"] * 1 + [
        "critique",
        "verdict",
        "refined",
    ]
    runs = store.runs.refine_history()
    assert list(runs.status) == ["completed"] and runs.steps[0] == 7


def test_history_survives_a_restart(open_page, scripted_fake):
    _submit(open_page("pages/refine.py"), prompt="Remember me.")
    at = open_page("pages/refine.py")  # a new session, as after restarting the app
    pick = at.selectbox(key="refine_history_pick")
    assert "Remember me." in pick.options[0]
    at.button(key="refine_history_open").click().run()
    assert not at.exception
    assert "first answer" in _texts(at) and "better answer 2" in _texts(at)


def test_compare_mode_runs_both_models(open_page, store, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    at = _submit(open_page("pages/refine.py"), rounds=1, compare=True)
    headings = [t for t in _texts(at) if t.startswith("#### ")]
    assert len(headings) == 2
    assert len(store.runs.refine_history()) == 2


def test_empty_prompt_shows_error(open_page, store, scripted_fake):
    at = _submit(open_page("pages/refine.py"), prompt="   ")
    assert "prompt is empty" in at.error[0].value
    assert store.runs.refine_history().empty


def test_backend_error_in_round_two_shows_kept_steps(open_page, monkeypatch):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setattr(
        context,
        "open_backend",
        lambda info, cfg=None: FakeBackend(info=info, responder=scripted(), fail_on_call=5),
    )
    at = _submit(open_page("pages/refine.py"))
    errors = [e.value for e in at.error]
    assert any("fake backend failure" in e for e in errors)
    assert any("Run failed" in e and "4 finished step(s) were kept" in e for e in errors)
    assert "first answer" in _texts(at) and "better answer 1" in _texts(at)


@pytest.mark.real_model
def test_refine_page_with_smollm2(open_page, store):
    at = _submit(open_page("pages/refine.py"), prompt="Name two uses of salt.", rounds=1)
    assert not at.error
    (run_id,) = store.runs.refine_history().id
    steps = store.generations.steps(run_id)
    assert steps.model_name.iloc[0] == SMOLLM2
    assert steps.text.iloc[0] in _texts(at)


def test_stop_early_is_on_by_default_and_an_early_stop_is_shown_prominently(
    open_page, store, monkeypatch
):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    responder = scripted(verdicts=["yes", "no"])
    monkeypatch.setattr(
        context, "open_backend", lambda info, cfg=None: FakeBackend(info=info, responder=responder)
    )
    at = open_page("pages/refine.py")
    box = at.checkbox(key="refine_stop_early")
    assert box.label == "Stop early when the critique finds nothing to fix" and box.value is True
    at = _submit(at)
    notes = [i.value for i in at.info]
    assert "Stopped early in round 2 of 2: the critique found nothing to fix." in notes
    (run_id,) = store.runs.refine_history().id
    assert store.runs.get(run_id).config.stop_early is True


def test_without_early_stop_every_round_rewrites(open_page, store, scripted_fake):
    at = open_page("pages/refine.py")
    at.checkbox(key="refine_stop_early").uncheck()
    at = _submit(at)
    (run_id,) = store.runs.refine_history().id
    kinds = list(store.generations.steps(run_id).kind)
    assert kinds == ["baseline", "critique", "refined", "critique", "refined"]
    assert not at.info and any("all requested rounds ran" in c.value for c in at.caption)
