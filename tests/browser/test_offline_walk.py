"""Zero outbound requests from the browser: a walk through every page records every
request chromium makes, with model output (and imported questions, texts to code and
labels) full of hostile Markdown and HTML, and fails on any request that leaves the machine.

The hostile text points both at a non-loopback host (example.com) and at a trap: a tiny HTTP
server on 127.0.0.1 that counts its hits. Outbound traffic may be blocked where the test runs,
but a fetch of the trap still arrives, so an image rendered from model text fails the test
either way. The real-model offline test (tests/real_model/test_offline.py) watches the Python
process; this one watches the browser. Each page's 1400×1000 screenshot goes to
build/screenshots/.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from core.engine.fake import FakeBackend
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.coding_run import create_coding_run, run_coding
from core.evaluation.templates import CRITIQUE_V1, REFINE_V1
from core.store import Store
from core.types import Question, RunSpec, SamplerSettings
from core.types.classification import Codebook, CodebookLabel, CodingSpec, TextRecord
from tests.support import ROOT, fake_model, last_turn

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}


def hostile_words(trap: str) -> list[str]:
    """At most eleven words, so the fake echo model (which repeats the prompt's last twelve,
    the transcript's `Assistant:` included) repeats them all. Each must show as plain text."""
    return [
        "![x](http://example.com/a.png)",
        f"![t]({trap}/markdown.png)",
        "[link](http://example.com/link)",
        f"[t]({trap}/link)",
        "http://example.com/bare",
        "<img/src=http://example.com/raw.png>",
        f"<img/src={trap}/raw.png>",
        f"<script>fetch('{trap}/script')</script>",
        ":material/home:",
    ]


@pytest.fixture
def trap():
    """A loopback HTTP server that records the path of every request it gets."""
    hits: list[str] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits, arrived
    server.shutdown()
    server.server_close()


def hostile_run(store: Store, text: str) -> str:
    """A finished, judged benchmark run whose imported question, reference, answers,
    critiques and rewrites all carry `text`; the rewrite differs, so the arena has pairs."""

    def answerer(prompt: str) -> str:
        turn = last_turn(prompt)
        if "yes or no" in turn:
            return "yes"
        if turn.startswith(CRITIQUE_V1.text):
            return f"critique {text}"
        if turn.startswith(REFINE_V1.text):
            return f"rewrite {text}"
        return text

    store.suites.save(
        "hostile",
        "test",
        [Question("h-1", "generic", text, (text,), reference=text, reference_kind="answer")],
    )
    models = (fake_model("hostile-a", "d"), fake_model("hostile-b", "e"))
    judge = fake_model("plain-judge", "f")
    backends = {m.name: FakeBackend(info=m, responder=answerer) for m in models}
    backends[judge.name] = FakeBackend(info=judge)
    spec = RunSpec(
        suite="hostile",
        models=models,
        rounds=1,
        judge=judge,
        settings=SamplerSettings(max_tokens=64),
        stop_early=False,
    )
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, backends.__getitem__)
    return run_id


def hostile_coding(store: Store, text: str, trap: str) -> str:
    """A coding run on one text carrying `text`, whose codebook has a label named like a
    Markdown image (button labels render Markdown images): one coder proposes it, the other
    Health, so the Review page shows both as buttons."""
    image_label = f"![label]({trap}/label.png)"
    store.datasets.save("hostile", "test", [TextRecord("h-1", text)])
    book = Codebook("hostile", (CodebookLabel("H", "Health"), CodebookLabel("X", image_label)))
    store.codebooks.save(book, "test")
    models = (fake_model("coder-a", "a"), fake_model("coder-b", "b"))
    answers = {"coder-a": "Health", "coder-b": image_label}
    run_id = create_coding_run(store, CodingSpec("hostile", "hostile", models), "fake")
    by_name = {m.name: m for m in models}
    run_coding(
        store,
        run_id,
        lambda name: FakeBackend(info=by_name[name], responder=lambda _: answers[name]),
    )
    return image_label


def outbound(urls: list[tuple[str, str]], trap: str | None = None) -> list[str]:
    """Requests that leave the machine, or that reach the trap (if any), each with its step."""
    return [
        f"{step}: {u}"
        for step, u in urls
        if (trap is not None and u.startswith(trap))
        or (urlsplit(u).hostname or "127.0.0.1") not in LOOPBACK
    ]


def recorded(context, page, step: list[str]) -> list[tuple[str, str]]:
    """Every request the context makes (any page, worker or popup) and the page's websockets,
    each with the walk step (`step[0]`) it happened in."""
    urls: list[tuple[str, str]] = []
    context.on("request", lambda r: urls.append((step[0], r.url)))
    page.on("websocket", lambda ws: urls.append((step[0], ws.url)))
    return urls


def test_recorder_and_trap_see_a_rendered_image(browser, trap):
    """The control: a page that does load images is caught by both checks below."""
    trap_url, hits, arrived = trap
    context = browser.new_context()
    page = context.new_page()
    urls = recorded(context, page, ["control"])
    page.set_content(
        f'<img src="{trap_url}/control.png"><img src="http://example.com/control.png">'
    )
    assert arrived.wait(30), "the trap server got no request"
    assert hits == ["/control.png"]
    assert sorted(outbound(urls, trap_url)) == sorted(
        [f"control: {trap_url}/control.png", "control: http://example.com/control.png"]
    )
    context.close()


def test_walk_through_every_page_makes_no_outbound_request(tmp_path, serve, browser, trap):
    from playwright.sync_api import expect

    trap_url, hits, _ = trap
    words = hostile_words(trap_url)
    text = " ".join(words)
    db = tmp_path / "walk.duckdb"
    hostile_run(Store(db), text)
    image_label = hostile_coding(Store(db), text, trap_url)
    url = serve(db, PERFICS_BACKEND="fake")
    SHOTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    step = ["models"]
    urls = recorded(context, page, step)
    shown: dict[str, str] = {}  # page -> its main area's text, for the plain-text check
    idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')

    def settle(name: str, keep_text: bool = False) -> None:
        idle.wait_for(timeout=60_000)
        if keep_text:
            shown[name] = page.get_by_test_id("stMain").inner_text()
        page.screenshot(path=str(SHOTS / f"{name}.png"))

    def visit(link: str, heading: str) -> None:
        step[0] = link.lower()
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)

    # Models: the entry page first (its st.navigation owns the routes), then generate.
    page.goto(url)
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=60_000)
    page.get_by_role("textbox", name="Prompt").fill(text)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Completion tokens")).to_be_visible(timeout=60_000)
    settle("models", keep_text=True)

    # Refine: one fixed round, then the same in compare mode.
    visit("Refine", "Self-refinement")
    page.get_by_role("textbox", name="Prompt").fill(text)
    page.get_by_role("spinbutton", name="Rounds").fill("1")
    page.get_by_text("Stop early when the critique finds nothing to fix").click()
    page.get_by_role("button", name="Refine", exact=True).click()
    expect(page.get_by_text("Stopped:")).to_have_count(1, timeout=60_000)
    settle("refine", keep_text=True)
    step[0] = "refine (compare)"
    page.get_by_text("Compare two models").click()
    page.get_by_role("button", name="Refine", exact=True).click()
    expect(page.get_by_text("Stopped:")).to_have_count(2, timeout=60_000)
    settle("refine-compare", keep_text=True)

    visit("Benchmarks", "Benchmarks")
    settle("benchmarks")

    # Results: the hostile run is the only one; open its first answer and the diff.
    visit("Results", "Results")
    expect(page.get_by_text("Question by question")).to_be_visible(timeout=30_000)
    changes = page.get_by_test_id("stExpander").filter(has_text="What refinement changed")
    changes.get_by_text("What refinement changed").click()
    expect(changes.get_by_test_id("stExpanderDetails")).to_be_visible(timeout=30_000)
    settle("results", keep_text=True)

    # Arena: vote on a baseline-vs-refined pair, then show a model-vs-model one.
    visit("Arena", "Arena")
    page.get_by_role("button", name="A is better").click()
    expect(page.get_by_text("Recorded.")).to_be_visible(timeout=30_000)
    page.get_by_text("Model vs model").click()
    # Both sides are now final answers, the two models' rewrites.
    expect(page.get_by_text(re.compile(r"^rewrite "))).to_have_count(2, timeout=30_000)
    settle("arena", keep_text=True)

    visit("Trade-offs", "Trade-offs")
    settle("tradeoffs")
    visit("Costs", "Costs")
    settle("costs")
    visit("Quantization", "Quantization")
    settle("quantization")
    visit("Classify", "Classify")
    settle("classify")
    page.get_by_role("tab", name="Codebooks").click()
    settle("classify-codebooks")
    page.get_by_role("tab", name="Coding runs").click()
    expect(page.get_by_text("Measured speed and cost per coder")).to_be_visible(timeout=30_000)
    settle("classify-runs")

    # Review: the hostile text and label as plain text; 1 on the keyboard accepts Health.
    visit("Review", "Review")
    name = page.get_by_role("textbox", name="Your name (reviewer)")
    name.fill("walker")
    name.press("Enter")
    expect(page.get_by_role("button", name="Accept 1 · Health")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name=f"Accept 2 · {image_label}")).to_be_visible()
    settle("review", keep_text=True)
    page.get_by_role("heading", name="Review").click()  # out of the name field
    page.keyboard.press("1")
    expect(page.get_by_text("Saved text h-1: Health.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Your queue is empty")).to_be_visible(timeout=30_000)
    settle("review-done")
    context.close()

    leaving = outbound(urls, trap_url)
    assert not leaving, f"{len(leaving)} of {len(urls)} requests left loopback:\n" + "\n".join(
        leaving
    )
    assert not hits, f"the browser fetched from the trap server: {hits}"
    assert len(urls) > 20, urls  # the recorder saw the dashboard's own requests
    for name, body in shown.items():
        missing = [w for w in words if w not in body]
        assert not missing, f"{name}: not shown as plain text: {missing}"
