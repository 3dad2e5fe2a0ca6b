"""AppTest for the Review page (issue 12): texts reviewed by clicking the keyboard-shortcut
buttons (accept, reject all and add, unclear, undo, skip), the multi-label pending set,
double coding, and the empty states; every decision read back from the store."""

import re

import pytest

from core.engine.fake import FakeBackend
from core.evaluation.coding_run import create_coding_run, run_coding
from core.types import ItemOutcome
from core.types.classification import (
    Codebook,
    CodebookLabel,
    Coding,
    CodingSpec,
    ProposedLabel,
    TextRecord,
)
from tests.support import fake_model, last_turn

BOOK = Codebook(
    "topics",
    (CodebookLabel("H", "Health"), CodebookLabel("M", "Money"), CodebookLabel("O", "Other")),
)
TEXTS = {
    "b1": "A bill on hospital funding",
    "b2": "A bill on income taxes",
    "b3": "A bill on rural roads",
    "b4": "A bill on nurse training",
}
CODER_A, CODER_B = fake_model("coder-a", "a"), fake_model("coder-b", "b")
# What each coder answers: they disagree on b2 and b3 only.
ANSWERS = {
    CODER_A.name: {"b1": "Health", "b2": "Money", "b3": "Other", "b4": "Health"},
    CODER_B.name: {"b1": "Health", "b2": "Health", "b3": "Money", "b4": "Health"},
}


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """The page runs on the fake backend."""


def _texts(store) -> None:
    store.init()
    store.datasets.save("bills", "test", [TextRecord(i, t) for i, t in TEXTS.items()])
    store.codebooks.save(BOOK, "test")


@pytest.fixture
def coded(store) -> str:
    """A single-label run of two fake coders, each answering from ANSWERS (confidence 70 %)."""
    _texts(store)
    run_id = create_coding_run(store, CodingSpec("bills", "topics", (CODER_A, CODER_B)), "fake")
    by_text = {f"Text: {t}": i for i, t in TEXTS.items()}

    def load(name: str) -> FakeBackend:
        info = {CODER_A.name: CODER_A, CODER_B.name: CODER_B}[name]
        return FakeBackend(
            info=info, responder=lambda p: ANSWERS[name][by_text[last_turn(p).split("\n")[0]]]
        )

    assert str(run_coding(store, run_id, load)) == "completed"
    return run_id


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _shown(at) -> str:
    return " ".join(_plain(m.value) for m in [*at.markdown, *at.caption, *at.info])


def _open(open_page, reviewer: str = "ann"):
    at = open_page("pages/review.py")
    at.text_input(key="review_reviewer").set_value(reviewer).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _press(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _current(at) -> str:
    (heading,) = [m.value for m in at.markdown if m.value.startswith("**Text ")]
    return _plain(heading).split("**")[1].removeprefix("Text ")


def _decisions(store, reviewer: str = "ann") -> dict:
    active = store.reviews.active("bills", "topics")
    mine = active[active.reviewer == reviewer]
    return {r.text_id: "unclear" if r.unclear else tuple(r.labels) for r in mine.itertuples()}


def test_keyboard_decisions_undo_and_skip(open_page, store, coded):
    at = open_page("pages/review.py")
    assert any("Enter your name as reviewer" in i.value for i in at.info)
    assert not [b for b in at.button if b.key and b.key.startswith("review_accept")]
    at = _open(open_page)
    # Disagreement first: b2 and b3 had two different labels proposed, in dataset order.
    assert _current(at) == "b2"
    assert "A bill on income taxes" in _shown(at)
    first, second = at.button(key="review_accept_1"), at.button(key="review_accept_2")
    assert (first.label, first.proto.shortcut) == ("Accept 1 · Health", "1")
    assert (second.label, second.proto.shortcut) == ("Accept 2 · Money", "2")
    assert "Proposed by coder-b · 0-shot" in _shown(at) and "70%" in _shown(at)
    assert at.button(key="review_reject").proto.shortcut == "0"
    assert at.button(key="review_unclear").proto.shortcut == "u"
    assert at.button(key="review_undo").proto.shortcut == "z"
    assert at.button(key="review_skip").proto.shortcut == "s"

    _press(at, "review_accept_2")  # single label: Money is the decision
    assert _decisions(store) == {"b2": ("M",)}
    assert _current(at) == "b3"
    # 0: both proposals (Money, Other) are wrong; only Health is left to add.
    _press(at, "review_reject")
    assert at.selectbox(key="review_missing").options == ["Health"]
    _press(at, "review_save_missing")
    assert _decisions(store) == {"b2": ("M",), "b3": ("H",)}
    assert _current(at) == "b1"
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Your decisions"], metrics["Verified"], metrics["Coded texts"]) == (
        "2",
        "2",
        "4",
    )

    _press(at, "review_undo")  # z: b3's decision is withdrawn and b3 comes back first
    assert _decisions(store) == {"b2": ("M",)}
    history = store.reviews.history("bills", "topics")
    assert history.undone_at.notna().sum() == 1
    assert _current(at) == "b3" and "Undid your decision on text b3" in _shown(at)
    _press(at, "review_unclear")  # u
    assert _decisions(store) == {"b2": ("M",), "b3": "unclear"}

    assert _current(at) == "b1"
    _press(at, "review_skip")  # s: session only, nothing stored
    assert _current(at) == "b4" and _decisions(store) == {"b2": ("M",), "b3": "unclear"}
    _press(at, "review_accept_1")
    assert _decisions(store)["b4"] == ("H",)
    assert "You skipped the 1 text(s) left in your queue" in _shown(at)
    _press(at, "review_unskip")
    assert _current(at) == "b1"
    _press(at, "review_accept_1")
    assert "Your queue is empty" in _shown(at)
    assert len(_decisions(store)) == 4


def test_label_and_model_filters_narrow_the_queue(open_page, store, coded):
    at = _open(open_page)
    at.selectbox(key="review_label").set_value("O").run()
    assert _current(at) == "b3"  # the only text some coder labelled Other
    _press(at, "review_accept_1")
    assert "Your queue is empty with these filters" in _shown(at)
    at.selectbox(key="review_label").set_value("(any)").run()
    assert _current(at) == "b2"  # the other text with two different labels
    # coder-a was unsure about b4: lowest confidence first puts it ahead of b2.
    store.db.execute(
        "UPDATE cls_proposals SET confidence = 0.2 WHERE run_id = ? AND item_no = "
        "(SELECT item_no FROM run_items WHERE run_id = ? AND question_id = 'b4' "
        "AND model_name = 'coder-a')",
        [coded, coded],
    )
    at.radio(key="review_order").set_value("confidence").run()
    assert "Active order: texts whose least confident proposal" in _shown(at)
    assert _current(at) == "b4"
    assert "coder-a · 0-shot" in _shown(at) and "20%" in _shown(at)
    at.radio(key="review_order").set_value("disagreement").run()
    assert _current(at) == "b2"
    at.selectbox(key="review_model").set_value("coder-b").run()
    assert _current(at) == "b2"  # both coders coded every text


@pytest.fixture
def coded_multi(store) -> str:
    """A multi-label run with intensities whose proposals are written as given."""
    _texts(store)
    spec = CodingSpec("bills", "topics", (CODER_A,), multi_label=True, intensities=True)
    run_id = create_coding_run(store, spec, "fake")
    labels = (ProposedLabel("H", 0.9, "high"), ProposedLabel("M", 0.4, "low"))
    for unit in store.items.pending(run_id):
        coding = Coding(labels, "raw", 10)
        store.codings.finish(run_id, unit.no, ItemOutcome("done", 0.1, final="raw"), coding)
    return run_id


def test_multi_label_toggles_a_pending_set_and_enter_submits(open_page, store, coded_multi):
    at = _open(open_page)
    assert _current(at) == "b1"
    assert at.button(key="review_accept_1").label == "Accept 1 · Health (high)"
    assert at.button(key="review_submit").proto.shortcut == "enter"
    at.button(key="review_submit").click().run()  # nothing accepted yet: refused
    assert [_plain(e.value) for e in at.error] == [
        "Accept at least one label first, or press 0 or U."
    ]
    assert _decisions(store) == {}
    _press(at, "review_accept_1")
    _press(at, "review_accept_2")
    assert "Accepting: Health, Money" in _shown(at)
    _press(at, "review_accept_2")  # toggled off again
    assert "Accepting: Health" in _shown(at) and _decisions(store) == {}
    _press(at, "review_submit")
    assert _decisions(store) == {"b1": ("H",)}
    decided = store.reviews.verified("bills", "topics", "one")
    assert [list(x) for x in decided.intensities[0]] == [["H", "high"]]
    # 0 then add: the pending set is cleared; the added label is the decision.
    _press(at, "review_accept_1")
    _press(at, "review_reject")
    assert at.selectbox(key="review_missing").options == ["Health", "Money", "Other"]
    at.selectbox(key="review_missing").set_value("O").run()
    _press(at, "review_save_missing")
    assert _decisions(store) == {"b1": ("H",), "b2": ("O",)}


def test_double_coding_assigns_texts_blind_to_their_reviewers(open_page, store, coded):
    at = _open(open_page)
    assert any("shown only to them" in c.value for c in at.caption)
    at.multiselect(key="review_assignees").set_value(["ann", "bob"])
    at.number_input(key="review_assign_count").set_value(2).run()
    _press(at, "review_assign")
    assert any("2 text(s) to ann, bob: 4 new assignment(s)" in s.value for s in at.success)
    assigned = store.reviews.assignments("bills", "topics")
    assert sorted(assigned.reviewer) == ["ann", "ann", "bob", "bob"]
    # Assigned texts come first for ann, and never show to a third reviewer.
    at.run()
    assert _current(at) in set(assigned.text_id)
    assert "assigned to you for double coding" in _shown(at)
    carl = _open(open_page, "carl")
    assert _current(carl) not in set(assigned.text_id)


def test_review_page_explains_what_to_do_before_anything_is_coded(open_page, store):
    at = open_page("pages/review.py")
    assert any(
        "import a dataset and a codebook, then start a coding run" in i.value for i in at.info
    )
    _texts(store)
    at = open_page("pages/review.py")
    assert any(
        "No coded texts yet: on the Classify page, start a coding run" in i.value for i in at.info
    )
