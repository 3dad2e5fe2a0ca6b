"""AppTest for the Refine page: live run, compare mode, history reload and failures."""

import pytest
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest

from core.app import context
from core.app.refine import SCREEN_LEFT
from core.engine.fake import FakeBackend
from core.types import RunStatus
from pages.components import refine_view
from pages.components.text import escape
from tests.support import GEMMA, SMOLLM2, scripted


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
    assert escape(steps.text.iloc[0]) in _texts(at)  # model text is shown escaped


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
    assert (
        "Stopped after round 2 of 2: the critique found nothing to fix, "
        "so the round 1 rewrite was kept." in notes
    )
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


def _use(monkeypatch, responder=None, **fake):
    monkeypatch.setenv("PERFICS_BACKEND", "fake")
    monkeypatch.setattr(
        context,
        "open_backend",
        lambda info, cfg=None: FakeBackend(info=info, responder=responder or scripted(), **fake),
    )


def _refined_column(at: AppTest) -> list:
    """The elements of the Refined column, top to bottom (st.empty slots resolved)."""
    (column,) = [
        c for c in at.columns if any(getattr(e, "value", None) == "**Refined**" for e in c)
    ]
    return [e for e in column.children.values()]


def test_an_early_stop_is_explained_in_words_at_the_top_of_the_refined_column(
    open_page, monkeypatch
):
    _use(monkeypatch, scripted(verdicts=["no"]))
    at = _submit(open_page("pages/refine.py"))
    heading, note, answer, *_ = _refined_column(at)
    assert heading.value == "**Refined**"
    assert note.value == (
        "Stopped after round 1 of 2: the critique found nothing to fix, "
        "so the first answer was kept."
    )
    assert answer.value == "first answer"  # the kept answer, not an empty column
    # The round that ended it stays open to read.
    (round_1,) = [e for e in at.expander if e.label == "Round 1 critique"]
    assert round_1.proto.expanded


def test_history_shows_the_new_run_at_once(open_page, scripted_fake, store):
    at = _submit(open_page("pages/refine.py"), prompt="First prompt.")
    at = _submit(at, prompt="Second prompt.")  # the same session, no reload
    pick = at.selectbox(key="refine_history_pick")
    newest = store.runs.refine_history().id[0]
    assert len(pick.options) == 2 and pick.value == newest
    assert "Second prompt." in pick.options[0]


def test_open_shows_which_run_it_is_apart_from_the_form(open_page, scripted_fake, store):
    at = _submit(open_page("pages/refine.py"), prompt="Old prompt.")
    at.text_area(key="refine_prompt").set_value("A new prompt, not yet run.")
    at = _submit(at, prompt="   ")  # a refused run in between clears the screen
    assert "first answer" not in _texts(at)
    at.selectbox(key="refine_history_pick").set_value(store.runs.refine_history().id[0])
    at.button(key="refine_history_open").click().run()
    assert not at.exception
    run = store.runs.get(store.runs.refine_history().id[0])
    assert [h.value for h in at.subheader][:1] == [f"Run from {run.created_at:%Y-%m-%d %H:%M} UTC"]
    caption = at.caption[1].value  # under the page's own caption
    assert escape(SMOLLM2) in caption and "2 round(s)" in caption and "temperature 0 " in caption
    assert "**Prompt:** Old prompt\\." in _texts(at)
    assert "first answer" in _texts(at)


def test_an_edited_template_is_labelled_and_stored_under_its_new_id(
    open_page, scripted_fake, store
):
    at = open_page("pages/refine.py")
    verdict = at.text_area(key="refine_tpl_verdict")
    assert verdict.label == "verdict template (verdict-v1)"
    verdict.set_value("Does the answer still need work? Reply with yes or no.")
    at = _submit(at, rounds=1)
    label = at.text_area(key="refine_tpl_verdict").label
    (run_id,) = store.runs.refine_history().id
    stored = store.runs.get(run_id).config.templates["verdict"]
    assert stored.id.startswith("verdict-custom-")
    assert label == f"verdict template ({stored.id}, edited)"
    assert escape(stored.id) in at.caption[1].value  # the run's heading names it too
    assert at.text_area(key="refine_tpl_critique").label == "critique template (critique-v1)"


def test_compare_mode_flags_a_base_model(open_page, scripted_fake):
    at = open_page("pages/refine.py")
    at.selectbox(key="refine_model").set_value(SMOLLM2)
    at.selectbox(key="refine_model_b").set_value(GEMMA)
    at = _submit(at, rounds=1, compare=True)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{GEMMA} is a base model (no chat template)")


def test_an_error_clears_the_previous_output(open_page, scripted_fake):
    at = _submit(open_page("pages/refine.py"))
    assert "first answer" in _texts(at)
    at = _submit(at, prompt="   ")
    assert "prompt is empty" in at.error[0].value
    assert "first answer" not in _texts(at) and "**Baseline**" not in _texts(at)
    assert not at.dataframe


def test_widgets_bound_their_inputs(open_page, scripted_fake):
    at = open_page("pages/refine.py")
    assert at.number_input(key="refine_rounds").max == 5
    # The default n_ctx (4096) is below every model's own context length.
    assert at.number_input(key="refine_max_tokens").max == 4096


def test_a_run_stopped_part_way_is_stored_as_stopped_and_shown(open_page, store, monkeypatch):
    """Stop makes Streamlit rerun the script, which it does by raising RerunException at the
    next st call: here, while the critique streams."""
    _use(monkeypatch)
    streamed = refine_view.RunView.on_token
    reruns = []

    def interrupted(self, round_no, kind, piece):
        if kind == "critique" and not reruns:
            reruns.append(kind)
            # What a click does: rerun this page, with the session's widgets as they are.
            page = get_script_run_ctx().page_script_hash
            raise RerunException(RerunData(page_script_hash=page))
        streamed(self, round_no, kind, piece)

    monkeypatch.setattr(refine_view.RunView, "on_token", interrupted)
    at = _submit(open_page("pages/refine.py"))
    assert reruns == ["critique"]
    (run_id,) = store.runs.refine_history().id
    run = store.runs.get(run_id)
    # Not a Stop (nothing says the user pressed it): a rerun that cut the run short.
    assert run.status == RunStatus.INTERRUPTED and run.error == SCREEN_LEFT
    assert list(store.generations.steps(run_id).kind) == ["baseline"]
    # The rerun shows the stopped run, with what it kept, and no Stop button any more.
    assert any(
        w.value.startswith(f"Run interrupted in round 1: {SCREEN_LEFT}.") for w in at.warning
    )
    assert "first answer" in _texts(at)
    assert not [b for b in at.button if b.label == "Stop"]
    assert "interrupted" in at.selectbox(key="refine_history_pick").options[0]
