"""Issue 12's "a browser test reviews 10 items with the keyboard": chromium reviews ten US
Congress bill titles on the Review page with key presses only (2, 0 + a missing label, U, 1,
then Z and 1 again), and the store holds exactly the decisions the page offered. Every request
the browser makes stays on 127.0.0.1."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from core.app import classify
from core.engine.fake import FakeBackend
from core.evaluation.coding_run import create_coding_run, run_coding
from core.store import Store
from core.types.classification import CodingSpec, VerifyRule
from tests.browser.test_offline_walk import outbound, recorded
from tests.support import CONGRESS, ROOT, cap_codebook, congress_bills, fake_model, last_turn

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CONGRESS.exists(), reason="the shared US Congress development set"),
]

DATASET, BOOK, REVIEWER = "congress-14", "cap", "kim"
CODER_A, CODER_B = fake_model("coder-a", "a"), fake_model("coder-b", "b")
DISAGREE = (2, 5, 9)  # positions of the bills coder B codes with a wrong label


@dataclass(frozen=True)
class Shown:
    """One text as the page showed it: its id, its text and the proposed labels in order."""

    text_id: str
    text: str
    options: tuple[str, ...]


def coded_store(db) -> tuple[dict, dict]:
    """14 seeded bills with the CAP codebook, coded by two fake coders: A answers the gold
    label; B too, except on DISAGREE, where it answers the next label of the codebook."""
    bills = congress_bills(14, seed=12)
    book = cap_codebook(BOOK)
    store = Store(db)
    store.init()
    store.datasets.save(DATASET, "test", bills)
    store.codebooks.save(book, "test")
    names = {label.code: label.name for label in book.leaves}
    codes = list(names)
    answers = {CODER_A.name: {}, CODER_B.name: {}}
    for i, bill in enumerate(bills):
        gold = bill.gold[0].code
        answers[CODER_A.name][bill.text] = names[gold]
        wrong = codes[(codes.index(gold) + 1) % len(codes)]
        answers[CODER_B.name][bill.text] = names[wrong if i in DISAGREE else gold]
    models = {m.name: m for m in (CODER_A, CODER_B)}

    def load(name: str) -> FakeBackend:
        def respond(prompt: str) -> str:
            text = last_turn(prompt).split("\n")[0].removeprefix("Text: ")
            return answers[name][text]

        return FakeBackend(info=models[name], responder=respond)

    run_id = create_coding_run(store, CodingSpec(DATASET, BOOK, (CODER_A, CODER_B)), "fake")
    assert str(run_coding(store, run_id, load)) == "completed"
    return {b.id: b.text for b in bills}, {b.id for i, b in enumerate(bills) if i in DISAGREE}


def test_ten_texts_reviewed_by_keyboard_are_stored_as_shown(tmp_path, serve, browser, monkeypatch):
    from playwright.sync_api import expect

    db = tmp_path / "review.duckdb"
    monkeypatch.setenv("PERFICS_DB", str(db))  # the use cases read the store the page wrote
    texts, disagreed = coded_store(db)
    book = cap_codebook(BOOK)
    code_of = {label.name: label.code for label in book.leaves}
    url = serve(db, PERFICS_BACKEND="fake")

    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    step = ["open"]
    urls = recorded(context, page, step)
    idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    heading = (
        page.get_by_test_id("stMarkdown")
        .locator("strong")
        .filter(has_text=re.compile(r"^Text \S+$"))
    )
    accept = page.get_by_role("button", name=re.compile(r"^Accept \d · "))

    def current() -> Shown:
        """The text on screen, once the script has finished its run."""
        idle.wait_for(timeout=30_000)
        text_id = heading.inner_text().removeprefix("Text ")
        expect(page.get_by_text(texts[text_id], exact=True)).to_be_visible()
        # A button's text is its label, then the key it answers to on a line of its own.
        labels = [b.inner_text().split("\n", 1)[0] for b in accept.all()]
        options = tuple(label.split(" · ", 1)[1] for label in labels)
        return Shown(text_id, texts[text_id], options)

    def press(key: str, notice: str) -> Shown:
        step[0] = f"press {key}"
        page.keyboard.press(key)
        expect(page.get_by_text(notice, exact=True)).to_be_visible(timeout=30_000)
        return current()

    page.goto(url)
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=60_000)
    step[0] = "review page"
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible(timeout=30_000)
    name = page.get_by_role("textbox", name="Your name (reviewer)")
    name.press_sequentially(REVIEWER)
    name.press("Enter")
    expect(heading).to_be_visible(timeout=30_000)
    page.get_by_role("heading", name="Review").click()  # focus leaves the name field

    shown: list[Shown] = []  # each text as it was on screen when its key was pressed
    expected: dict[str, tuple[str, ...] | str] = {}  # text id -> codes decided, or "unclear"
    now = current()

    # 1: the second proposed label.
    shown.append(now)
    assert len(now.options) == 2, now
    expected[now.text_id] = (code_of[now.options[1]],)
    now = press("2", f"Saved text {now.text_id}: {now.options[1]}.")

    # 2: reject both proposals, add a label nobody proposed (typed into the picker), save.
    shown.append(now)
    assert len(now.options) == 2, now
    step[0] = "press 0"
    page.keyboard.press("0")
    picker = page.get_by_role("combobox", name="Add a missing label")
    expect(picker).to_be_visible(timeout=30_000)
    idle.wait_for(timeout=30_000)
    missing = next(n for n in code_of if n not in now.options)
    picker.focus()
    page.keyboard.type(missing)
    page.keyboard.press("Enter")
    expect(picker).to_have_value(missing, timeout=30_000)
    idle.wait_for(timeout=30_000)
    page.get_by_role("button", name="Save", exact=True).focus()
    expected[now.text_id] = (code_of[missing],)
    now = press("Enter", f"Saved text {now.text_id}: {missing}.")

    # 3: unclear.
    shown.append(now)
    expected[now.text_id] = "unclear"
    now = press("u", f"Saved text {now.text_id}: unclear.")

    # 4-10: the first proposed label.
    for _ in range(7):
        shown.append(now)
        expected[now.text_id] = (code_of[now.options[0]],)
        last = now
        now = press("1", f"Saved text {now.text_id}: {now.options[0]}.")

    # Z brings the last text back first; 1 decides it again the same way.
    back = press("z", f"Undid your decision on text {last.text_id}.")
    assert back == last
    press("1", f"Saved text {last.text_id}: {last.options[0]}.")
    step[0] = "done"
    your_decisions = page.get_by_test_id("stMetric").filter(has_text="Your decisions")
    expect(your_decisions).to_contain_text("10")
    page.screenshot(path=str(ROOT / "data" / "browser-review-keyboard.png"), full_page=True)
    context.close()

    # The queue showed the texts the coders disagreed on first, each with both proposals.
    assert {s.text_id for s in shown[:3]} == disagreed
    assert len({s.text_id for s in shown}) == 10
    store = Store(db)
    proposals = store.codings.proposals(DATASET, BOOK)
    for s in shown:
        proposed = set(proposals[proposals.text_id == s.text_id].label)
        assert {code_of[o] for o in s.options} == proposed, s

    history = store.reviews.history(DATASET, BOOK)
    mine = history[history.reviewer == REVIEWER]
    assert len(mine) == 11
    (undone,) = mine[mine.undone_at.notna()].itertuples()
    assert undone.text_id == last.text_id and tuple(undone.labels) == expected[last.text_id]
    active = store.reviews.active(DATASET, BOOK)
    assert set(active.reviewer) == {REVIEWER}
    decided = {r.text_id: "unclear" if r.unclear else tuple(r.labels) for r in active.itertuples()}
    assert decided == expected

    stats = classify.review_stats(DATASET, BOOK, VerifyRule.ONE)
    assert (stats.coded_texts, stats.reviewed_texts, stats.unclear_texts) == (14, 10, 1)
    assert stats.verified_texts == 9  # an unclear decision verifies nothing
    assert stats.decisions_by_reviewer == {REVIEWER: 10}
    assert stats.assigned_texts == 0

    leaving = outbound(urls)
    assert not leaving, f"{len(leaving)} of {len(urls)} requests left loopback:\n" + "\n".join(
        leaving
    )
    assert len(urls) > 10, urls  # the recorder saw the dashboard's own requests
