"""One real refinement with SmolLM2, end to end: stored steps, KV reuse, the CLI's JSON."""

import json

import pytest

from core.evaluation.refine import run_refinement
from core.store import Store
from core.types import RefineRequest, SamplerSettings, StopReason
from tests.support import SMOLLM2, run_cli

pytestmark = pytest.mark.real_model


def test_real_refinement_is_stored_step_by_step(smollm2, tmp_path):
    store = Store(tmp_path / "real.duckdb")
    settings = SamplerSettings(temperature=0.0, seed=3, max_tokens=96)
    request = RefineRequest("Give two tips for learning a language.", 2, settings)
    outcome = run_refinement(store, smollm2, request)
    run_id, result = outcome.run_id, outcome.result
    assert outcome.ok and result.stop_reason in list(StopReason)
    steps = store.generations.steps(run_id)
    assert list(steps.kind) == [s.kind for s in result.steps]
    assert list(steps.text) == [s.text for s in result.steps]
    assert steps.kind.iloc[0] == "baseline" and steps.model_name.iloc[0] == SMOLLM2
    assert set(steps[steps.kind == "verdict"].text) <= {"yes", "no"}  # grammar-forced
    run = store.runs.get(run_id)
    assert (run.status, run.stop_reason) == ("completed", result.stop_reason)
    # Every step after the baseline continues the same conversation from the KV cache.
    totals = result.totals()
    assert totals.reusable_prefix_tokens > 0
    assert totals.prefix_recomputed_fraction <= 0.10


def test_cli_refine_json(tmp_path):
    result = run_cli(
        "refine",
        "--model",
        "smol",
        "--prompt",
        "What is a prime number?",
        "--rounds",
        "1",
        "--temperature",
        "0",
        "--max-tokens",
        "64",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["baseline"] and out["final"] and out["stop_reason"] in list(StopReason)
    assert out["model"] == SMOLLM2
    for entry in out["rounds"]:
        assert entry["critique"] and entry["verdict"] in ("yes", "no")
        assert entry["metrics"]["critique"]["completion_tokens"] > 0
        assert entry["metrics"]["critique"]["prompt_tokens_reused"] > 0
    totals = out["totals"]
    assert (
        totals["prompt_tokens_evaluated"] + totals["prompt_tokens_reused"]
        == totals["prompt_tokens"]
    )
    assert out["templates"]["critique"] == {"id": "critique-v1", "version": 1}


def test_cli_refine_bad_rounds():
    result = run_cli("refine", "--model", "smol", "--prompt", "hi", "--rounds", "9")
    assert result.returncode == 1 and "rounds must be between 0 and 5" in result.stderr
