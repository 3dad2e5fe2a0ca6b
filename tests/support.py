"""Shared test data and helpers: paths, fake models, scripted responders and a benchmark run
in which quality and cost disagree. Fixtures built on these live in conftest.py."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from core.engine.fake import FAKE_INFO, FakeBackend
from core.evaluation.benchmark import create_run, run_benchmark
from core.evaluation.templates import CRITIQUE_V1, REFINE_V1, VERDICT_V1
from core.store import Store
from core.types import RunSpec, SamplerSettings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
MODELS_DIR = ROOT / "models"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1"
GEMMA = "gemma-3-270m-q4_k_m"
CLI = [sys.executable, "-m", "core.app.cli"]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def fake_model(name: str, sha_digit: str, **fields) -> type(FAKE_INFO):
    return dataclasses.replace(FAKE_INFO, name=name, sha256=sha_digit * 64, **fields)


FAKE_TWO = fake_model("fake-two", "2")


def fake_pool():
    """Backend loader for the two fake models, each loaded once."""
    backends = {}

    def load(name):
        info = {FAKE_INFO.name: FAKE_INFO, FAKE_TWO.name: FAKE_TWO}[name]
        return backends.setdefault(name, FakeBackend(info=info))

    return load


def bench_spec(**changes) -> RunSpec:
    """Both fake models, one round, judged, three built-in questions."""
    base = dict(
        suite="builtin",
        models=(FAKE_INFO, FAKE_TWO),
        rounds=1,
        judge=FAKE_INFO,
        limit=3,
        settings=SamplerSettings(max_tokens=64, seed=9),
    )
    return RunSpec(**{**base, **changes})


def finished_run(store: Store, **changes) -> str:
    run_id = create_run(store, bench_spec(**changes), "fake")
    run_benchmark(store, run_id, fake_pool())
    return run_id


def scripted(verdicts=("yes",) * 5, rewrites=None):
    """A responder that answers by which refinement template the last user turn is."""
    verdicts = list(verdicts)
    counter = {"refine": 0, "critique": 0}

    def respond(prompt: str) -> str:
        last_user = prompt.rsplit("User: ", 1)[1]
        if last_user.startswith(VERDICT_V1.text):
            return verdicts.pop(0)
        if last_user.startswith(CRITIQUE_V1.text):
            counter["critique"] += 1
            return f"critique number {counter['critique']}: be more specific"
        if last_user.startswith(REFINE_V1.text):
            counter["refine"] += 1
            return (
                rewrites[counter["refine"] - 1]
                if rewrites
                else f"better answer {counter['refine']}"
            )
        return "first answer"

    return respond


def last_turn(prompt: str) -> str:
    return prompt.rsplit("User: ", 1)[1]


def always_refine(text: str):
    """An answerer that always says its answer needs changing and always gives `text`."""

    def respond(prompt: str) -> str:
        return "yes" if "yes or no" in last_turn(prompt) else text

    return respond


# A run where quality and cost disagree: one model answers well but slowly, one badly but fast.
SLOW_GOOD = fake_model("slow-good", "a", file_size=900_000_000)
FAST_POOR = fake_model("fast-poor", "b", file_size=100_000_000)
JUDGE = fake_model("judge", "c")


def _rating_judge(prompt: str) -> str:
    if "Verdict" in prompt:
        return "Verdict: tie"
    return "Rating: 9" if "thorough" in prompt else "Rating: 3"


def make_contrasting_run(store: Store) -> str:
    backends = {
        "slow-good": FakeBackend(
            info=SLOW_GOOD, responder=always_refine("a thorough answer " * 40)
        ),
        "fast-poor": FakeBackend(info=FAST_POOR, responder=always_refine("meh")),
        "judge": FakeBackend(info=JUDGE, responder=_rating_judge),
    }
    spec = RunSpec(
        suite="builtin",
        models=(SLOW_GOOD, FAST_POOR),
        rounds=1,
        judge=JUDGE,
        limit=4,
        settings=SamplerSettings(max_tokens=200),
    )
    run_id = create_run(store, spec, "fake")
    run_benchmark(store, run_id, backends.__getitem__)
    return run_id


def hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process holding the DuckDB file's write lock for `seconds`."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def run_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """`perfics ARGS` in a subprocess, as a user runs it."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=timeout,
    )


def chromium_path() -> str | None:
    return shutil.which("chromium")


def assert_no_duplicates(store: Store, run_id: str) -> None:
    """No unit's step or judgment stored twice, no generation outside a finished unit."""
    q = store.db.query_df
    dupes = q(
        "SELECT item_no, step, count(*) AS n FROM generations WHERE run_id = ? "
        "GROUP BY ALL HAVING count(*) > 1",
        [run_id],
    )
    assert dupes.empty
    orphans = q(
        "SELECT DISTINCT g.item_no FROM generations g LEFT JOIN run_items i "
        "ON i.run_id = g.run_id AND i.item_no = g.item_no AND i.status <> 'pending' "
        "WHERE g.run_id = ? AND i.item_no IS NULL",
        [run_id],
    )
    assert orphans.empty
    per_item = q(
        "SELECT i.item_no, count(g.id) AS steps, max(g.step) AS last "
        "FROM run_items i JOIN generations g ON g.run_id = i.run_id AND g.item_no = i.item_no "
        "WHERE i.run_id = ? GROUP BY ALL",
        [run_id],
    )
    assert (per_item.steps == per_item["last"] + 1).all()
    judged = q(
        "SELECT item_no, kind, subject, order_ab, count(*) AS n FROM judgments "
        "WHERE run_id = ? GROUP BY ALL HAVING count(*) > 1",
        [run_id],
    )
    assert judged.empty


def open_dashboard_page(browser, url: str, title: str, height: int = 2000):
    """A new tab on the dashboard, then the page `title` through its sidebar link. The entry
    page comes first: its st.navigation owns the routes from then on (a deep link right after
    a server start runs Streamlit's older multipage mode)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url)
    expect(page.get_by_role("heading", name="Models")).to_be_visible(timeout=60_000)
    if title != "Models":
        page.get_by_role("link", name=title).click()
        heading = {"Refine": "Self-refinement"}.get(title, title)
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
    return page


# The shared development data (not shipped): beside the checkout, or where this machine keeps
# it (/work/shared), so a clean clone elsewhere still finds it.
SHARED_DATASETS = next(
    (
        folder
        for folder in (ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets"))
        if folder.is_dir()
    ),
    ROOT.parent / "shared" / "datasets",
)
# The US Congress development set and its CAP major-topic codebook.
CONGRESS = SHARED_DATASETS / "us-congress-cap" / "USCongress.csv.gz"
CAP_CODEBOOK = DATA / "cap_major_topics.csv"


def cap_codebook(name: str = "cap"):
    """The 20 CAP major topics, read by the product's own codebook import."""
    from core.evaluation.codebook_import import load_codebook

    return load_codebook(CAP_CODEBOOK, name)[0]


def congress_bills(n: int | None = None, seed: int = 0) -> list:
    """Bill titles of the US Congress set as TextRecords (id = its ID, gold = its CAP major
    code): a seeded sample of n of them, or all of them in file order."""
    import pandas as pd

    from core.types.classification import LabelValue, TextRecord

    table = pd.read_csv(CONGRESS, sep=";")
    if n is not None:
        table = table.sample(n=n, random_state=seed)
    return [TextRecord(str(r.ID), r.text, (LabelValue(str(r.major)),)) for r in table.itertuples()]


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def _root_without_file_rights() -> None:
    """Drops CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) from the bounding set, so the
    root program exec'd next obeys file modes like any other user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def unprivileged() -> tuple[str, object]:
    """(how, preexec_fn) for a child to which file modes apply (a mode-000 file cannot be
    read), picked at run time: not root, modes already apply (None); root, the user nobody
    (uid 65534) when nobody can run this Python (the caller makes its folders traversable);
    else root without the capabilities that override modes (this Python may live in a home
    folder nobody cannot enter)."""
    if os.geteuid() != 0:
        return "not root", None
    try:
        runs = subprocess.run(
            [sys.executable, "-c", "pass"], preexec_fn=_as_nobody, capture_output=True, timeout=60
        )
        if runs.returncode == 0:
            return "nobody", _as_nobody
    except OSError:
        pass  # the interpreter is out of nobody's reach
    return "root without CAP_DAC_OVERRIDE", _root_without_file_rights
