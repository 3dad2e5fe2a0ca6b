"""`perfics run --measure likelihood`, `perfics results` and `perfics rank` on likelihood runs
(fake backend, in process)."""

import json

import pytest

from core.app import likelihood
from core.app.cli import main
from core.engine.fake import FAKE_INFO
from core.types import LikelihoodSpec
from tests.support import DATA


@pytest.fixture(autouse=True)
def fake_backend(fake_mode):
    """Every command here runs on the fake backend."""


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_likelihood_run_results_and_rank_from_the_cli(capsys):
    assert _run(capsys, "suite", "import", str(DATA / "mc_simple.jsonl"), "--name", "mc")[0] == 0
    flags = ["--measure", "likelihood", "--quiet"]
    code, out, err = _run(capsys, "run", "--suite", "mc", "--models", "fake-echo", *flags)
    assert code == 0, err
    assert "18 units (18 multiple-choice, 0 reference answers) on 18 questions" in err
    run_id = out.strip()

    code, out, _ = _run(capsys, "results", "--run", run_id)
    assert code == 0 and "framing lm-eval-qa-v1" in out
    (line,) = [x for x in out.splitlines() if " all " in x]
    assert "acc_norm" in line and "(n=18)" in line and "chance 0.25" in line
    code, out, _ = _run(capsys, "results", "--run", run_id, "--json")
    report = json.loads(out)  # strict JSON: no NaN
    every = [r for r in report["results"] if r["category"] == "all"][0]
    assert report["kind"] == "likelihood" and every["mc_accuracy_n"] == 18
    assert every["reference_score"] is None

    code, out, _ = _run(capsys, "run", "--list", "--json")
    assert [r["kind"] for r in json.loads(out)] == ["likelihood"]

    # Quality but no measured answers: no cost, so nothing ranked, and a note says why.
    code, out, _ = _run(capsys, "rank", "--run", run_id)
    assert code == 0 and "fake-echo has a quality figure but no measured answers" in out
    # A benchmark measures the cost; the likelihood run (auto) or --quality gives quality.
    assert _run(capsys, "run", "--suite", "builtin", "--models", "fake-echo", "--rounds", "0",
                "--categories", "math", "--limit", "2", "--quiet")[0] == 0  # fmt: skip
    code, out, _ = _run(capsys, "rank", "--run", run_id, "--json")
    (model,) = json.loads(out)["models"]
    assert model["performance_source"].startswith("likelihood: MC accuracy (acc_norm) ")
    assert model["performance_source"].endswith(", n=18") and model["gain"] is None
    code, out, _ = _run(capsys, "rank", "--quality", "likelihood")
    assert "quality from likelihood runs" in out and "likelihood: MC accuracy" in out
    code, out, _ = _run(capsys, "rank", "--quality", "answers", "--json")
    (model,) = json.loads(out)["models"]
    assert model["performance_source"] == "reference (n=2)"  # the math answers' checks


def test_flags_that_only_answers_use_are_refused(capsys):
    code, _, err = _run(
        capsys, "run", "--suite", "builtin", "--models", "fake-echo", "--measure", "likelihood",
        "--judge", "fake-echo",
    )  # fmt: skip
    assert code == 1 and "--judge has no part in a likelihood run" in err
    code, _, err = _run(capsys, "run", "--suite", "builtin", "--models", "fake-echo",
                        "--measure", "likelihood", "--categories", "roleplay")  # fmt: skip
    assert code == 1 and "No question of suite 'builtin' can be scored by likelihood" in err


def test_a_likelihood_run_resumes_through_perfics_run_resume(capsys, store):
    assert _run(capsys, "suite", "import", str(DATA / "mc_simple.csv"), "--name", "csv")[0] == 0
    run_id = likelihood.create(LikelihoodSpec("csv", (FAKE_INFO,)))  # queued, as if stopped
    assert store.runs.get(run_id).status == "queued"
    code, out, err = _run(capsys, "run", "--resume", run_id, "--quiet")
    assert code == 0 and out.strip() == run_id, err
    assert store.runs.get(run_id).status == "completed"
    code, out, _ = _run(capsys, "results", "--run", run_id)
    assert "(n=3)" in out
