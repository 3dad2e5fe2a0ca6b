"""Bad inputs and races on the Arena, Review, Trade-offs and Costs pages (AppTest, fake
backend): a key press that arrives after the screen went stale (another tab voted, decided or
deleted) acts on what the user saw or is refused, never on something else; weights and saved
profiles that cannot rank are an error or a fallback, never a traceback."""

import pytest

from core.app import classify, runs
from core.app.preferences import HARDWARE
from core.app.results import arena_state, cast_vote
from core.evaluation.arena import votes
from core.ranking.cost import HARDWARE_PRESETS
from core.types.classification import LabelValue
from pages.components.text import escape
from tests.pages.test_review_page import _current, _decisions, _open
from tests.pages.test_review_page import coded as coded  # the fixture: two coders, four bills
from tests.support import finished_run

MODE = "model_vs_model"


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every page here runs on the fake backend."""


def _arena(open_page):
    at = open_page("pages/arena.py")
    at.radio(key="arena_mode").set_value(MODE).run()
    return at


def test_a_vote_goes_to_the_pair_on_screen_or_nowhere_once_its_run_is_gone(open_page, store):
    other = finished_run(store, limit=1)
    run_id = finished_run(store, limit=2)
    at = _arena(open_page)
    assert at.selectbox(key="arena_run").value == run_id  # the newest run first
    pair = arena_state(run_id, MODE).next_pair  # the pair the page shows (seeded)
    assert f"**Question:** {escape(pair.question)}" in [m.value for m in at.markdown]
    cast_vote(run_id, pair, "tie")  # another tab votes on the same pair first
    at.button(key="arena_vote_left").click().run()
    stored = votes(store, run_id, MODE)
    assert list(stored.item_no) == [pair.item_no, pair.item_no]  # not the next pair
    assert list(stored.vote) == ["tie", "left"]
    assert list(stored.left_label) == [pair.left_label, pair.left_label]

    runs.delete_run(run_id)  # in another tab, or `perfics run --delete`
    at.button(key="arena_vote_left").click().run()
    assert not at.exception
    assert any("was deleted meanwhile; the vote was not stored" in e.value for e in at.error)
    assert votes(store, other).empty  # never the pair the other run shows now
    assert store.db.rows("SELECT count(*) FROM votes") == [(0,)]


def test_a_key_press_decides_the_text_on_screen_when_another_reviewer_decided_it_first(
    open_page, store, coded
):
    at = _open(open_page)
    assert _current(at) == "b2"  # proposals: 1 Health, 2 Money
    classify.decide("bills", "topics", "b2", "bob", [LabelValue("O")], False)  # bob, elsewhere
    at.button(key="review_accept_1").click().run()  # ann presses 1 on b2
    assert not at.exception and not at.error
    assert _decisions(store) == {"b2": ("H",)}  # never b3's first proposal, Money
    assert _current(at) == "b3"
    classify.decide("bills", "topics", "b3", "bob", [LabelValue("M")], False)
    at.button(key="review_unclear").click().run()  # U on b3, not on b1 that is first now
    assert _decisions(store) == {"b2": ("H",), "b3": "unclear"}


def test_all_weights_at_zero_is_an_error_not_a_ranking(open_page):
    at = open_page("pages/tradeoffs.py")
    for key in ("trade_wp", "trade_wr", "trade_wc"):
        at.slider(key=key).set_value(0.0)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["at least one weight must be positive"]
    assert not at.dataframe


def test_a_saved_profile_that_no_longer_validates_opens_on_the_first_preset(open_page, store):
    store.init()
    store.preferences.put(HARDWARE, {"name": "old box", "watts": -5.0, "lifetime_years": 0})
    at = open_page("pages/costs.py")
    assert not at.exception and not at.error
    preset = HARDWARE_PRESETS[0]
    assert at.text_input(key=f"costs_name_{preset.name}").value == preset.name


def test_an_unusable_judge_is_refused_until_it_is_accepted(open_page, judged_run):
    at = open_page("pages/tradeoffs.py")
    assert not at.exception
    assert any("will not rank on an unreliable judge" in e.value for e in at.error)
    assert not at.dataframe
    at.checkbox(key="trade_accept_judge").check().run()
    assert not at.error and len(at.dataframe[0].value) == 2
    assert any("you accepted" in w.value for w in at.warning)
