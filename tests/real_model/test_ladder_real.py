"""`perfics ladder` over SmolLM2 and three quantizations of it, as a user runs it: the table,
a stop and resume, and the JSON record checked against the engine's own figures."""

import json
import shutil

import pytest

from core.app import context, ladder, runs
from core.engine.footprint import measure_footprint
from core.engine.llama import LlamaBackend
from core.engine.registry import discover, resolve
from core.errors import UnusableModel
from core.evaluation.ladder import question_score, scorable_questions, speeds
from core.evaluation.likelihood import score_question
from tests.support import MODELS_DIR, SMOLLM2, run_cli

pytestmark = pytest.mark.real_model

TEXT = (
    "A bill to amend the Internal Revenue Code to extend the credit for research. To "
    "designate the facility of the United States Postal Service as the Post Office Building. "
    "A bill to improve access to health care in rural areas, and for other purposes. "
) * 6
TYPES = "Q8_0,Q4_K_M,Q3_K_M"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(MODELS_DIR / f"{SMOLLM2}.gguf", models / f"{SMOLLM2}.gguf")
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(models))
    text = tmp_path / "bills.txt"
    text.write_text(TEXT, encoding="utf-8")
    return models, text


def test_ladder_prints_the_table_for_three_quantizations(folder):
    models, text = folder
    refused = run_cli("ladder", SMOLLM2, "--types", TYPES, "--file", str(text), "--ctx", "64")
    assert refused.returncode != 0 and "--allow-requantize" in refused.stderr
    out = run_cli(
        "ladder",
        SMOLLM2,
        "--types",
        TYPES,
        "--file",
        str(text),
        "--ctx",
        "64",
        "--allow-requantize",
        timeout=900,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"Quantization ladder of {SMOLLM2} on bills.txt (64-token")
    assert "relative to it" in lines[0]
    rows = {line.split()[0]: line for line in lines[2:6]}
    assert set(rows) == {"source", "Q8_0", "Q4_K_M", "Q3_K_M"}
    assert "—" in rows["source"] and "—" not in rows["Q3_K_M"]  # no KLD for the source
    assert any(line.strip().startswith("Q3_K_M: ") and "Q4_K" in line for line in lines)
    assert sorted(p.name for p in models.glob("*.gguf")) == sorted(
        [f"{SMOLLM2}.gguf"] + [f"{SMOLLM2}-to-{t}.gguf" for t in TYPES.split(",")]
    )


def test_ladder_json_matches_the_engine_and_resumes_from_a_stop(folder):
    models, _ = folder
    # Plan it, stop it before any worker takes it, then resume it from the CLI.
    run_id, ctx = ladder.plan(SMOLLM2, "Q8_0,Q2_K", TEXT, "bills.txt", 64, True)
    assert ctx == 64
    assert runs.stop_run(run_id) == "Stopped before it started."
    out = run_cli("ladder", "--run", run_id, "--json", timeout=900)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    rungs = {r["qtype"]: r for r in record["rungs"]}
    assert list(rungs) == ["source", "Q8_0", "Q2_K"]
    assert rungs["Q8_0"]["mean_kld"] < rungs["Q2_K"]["mean_kld"]
    assert rungs["Q8_0"]["same_top"] > rungs["Q2_K"]["same_top"]
    # The source's perplexity is exactly what the engine gives on the same chunks.
    backend = LlamaBackend(resolve(SMOLLM2, discover(models)), n_ctx=256, threads=2)
    try:
        assert rungs["source"]["perplexity"] == pytest.approx(
            backend.corpus_perplexity(TEXT, 64).perplexity, rel=1e-9
        )
    finally:
        backend.close()
    assert rungs["Q2_K"]["file_bytes"] == (models / f"{SMOLLM2}-to-Q2_K.gguf").stat().st_size
    assert context.store().runs.get(run_id).status == "completed"
    # Memory is measured for each model in a process of its own, so none inherits another's.
    assert all(r["memory_mb"] > 20 for r in rungs.values())
    assert all(r["gen_tokens_per_s"] > 0 and r["prompt_tokens_per_s"] > 0 for r in rungs.values())


def test_a_footprint_of_a_broken_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(UnusableModel):
        measure_footprint(broken, 256, 2)


def test_a_ladder_on_a_suite_carries_likelihood_quality_with_its_interval(folder):
    out = run_cli(
        "ladder",
        SMOLLM2,
        "--types",
        "Q8_0",
        "--suite",
        "builtin",
        "--ctx",
        "64",
        "--allow-requantize",
        "--json",
        timeout=900,
    )
    assert out.returncode == 0, out.stderr
    rungs = {r["qtype"]: r for r in json.loads(out.stdout)["rungs"]}
    store = context.store()
    questions = scorable_questions(store, "builtin")
    assert len(questions) >= 10
    source = rungs["source"]
    assert source["quality_n"] == len(questions)
    assert source["quality_low"] <= source["quality"] <= source["quality_high"]
    # The source's figure is the mean of each question's own score, recomputed here.
    models, _ = folder
    backend = LlamaBackend(resolve(SMOLLM2, discover(models)), n_ctx=2048, threads=2)
    try:
        by_hand = [question_score(q, score_question(backend, q)) for q in questions]
    finally:
        backend.close()
    assert source["quality"] == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-9)


def test_each_speed_repeat_evaluates_the_whole_prompt(smollm2):
    """Without a reset, the second and third completions reuse the cached prompt and would
    time one token as if it were the whole prompt."""
    seen = []
    original = smollm2.complete

    def recording(prompt, settings, on_token=None):
        generation = original(prompt, settings, on_token)
        seen.append((generation.prompt_tokens, generation.prompt_tokens_evaluated))
        return generation

    smollm2.complete = recording
    try:
        speeds(smollm2, TEXT, 64)
    finally:
        del smollm2.complete
    assert len(seen) == 3
    assert all(evaluated == total for total, evaluated in seen), seen
