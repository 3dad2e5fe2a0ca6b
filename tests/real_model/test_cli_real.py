"""`perfics` end to end in subprocesses, as a user runs it."""

import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from core.store import Store
from tests.support import SMOLLM2, hold_lock, run_cli

pytestmark = pytest.mark.real_model

GREEDY = ["--temperature", "0", "--seed", "7", "--max-tokens", "24"]


def _rows(db: str, sql: str) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_generate_json_prints_the_full_record_and_stores_it():
    result = run_cli(
        "generate", "--model", "smol", "--prompt", "Name one planet.", *GREEDY, "--json"
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    for key in (
        "text",
        "finish_reason",
        "prompt_tokens",
        "prompt_tokens_evaluated",
        "completion_tokens",
        "ttft_s",
        "total_s",
        "gen_tokens_per_s",
        "peak_rss_mb",
        "settings",
        "model_sha256",
        "llama_cpp_version",
    ):
        assert key in record, key
    assert record["model_name"] == SMOLLM2
    assert record["settings"] == {
        "temperature": 0.0,
        "top_p": 0.95,
        "repeat_penalty": 1.1,
        "max_tokens": 24,
        "seed": 7,
        "stop": [],
        "grammar": None,
    }
    stored = _rows(os.environ["PERFICS_DB"], "SELECT id, text, completion_tokens FROM generations")
    assert stored == [(record["id"], record["text"], record["completion_tokens"])]
    again = json.loads(
        run_cli(
            "generate", "--model", SMOLLM2, "--prompt", "Name one planet.", *GREEDY, "--json"
        ).stdout
    )
    assert again["text"] == record["text"]


def test_console_script_is_installed():
    perfics = Path(sys.executable).parent / "perfics"
    assert perfics.exists() or shutil.which("perfics")


def test_unknown_model_exits_nonzero_and_lists_models():
    result = run_cli("generate", "--model", "llama-70b", "--prompt", "hi")
    assert result.returncode == 2
    assert "llama-70b" in result.stderr and SMOLLM2 in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_prompt_is_a_clear_error():
    result = run_cli("generate", "--model", "smol", "--prompt", "   ")
    assert result.returncode == 1 and "prompt is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_too_long_prompt_is_a_clear_error():
    result = run_cli(
        "generate", "--model", "smol", "--prompt", "word " * 5000, env={"PERFICS_N_CTX": "512"}
    )
    assert result.returncode == 1 and "context holds 512" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_database_is_reported_before_generating(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(
        "generate",
        "--model",
        "smol",
        "--prompt",
        "hi",
        env={"PERFICS_DB": str(blocker / "db.duckdb")},
    )
    assert result.returncode == 1 and "Cannot create the database folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_models_json_lists_broken_files_with_reasons(models_dir_with_junk):
    result = run_cli("models", "--json", env={"PERFICS_MODELS_DIR": str(models_dir_with_junk)})
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    rows = {r["name"]: r for r in listing["models"]}
    assert rows[SMOLLM2]["usable"] and len(rows[SMOLLM2]["sha256"]) == 64
    assert listing["other_files"] == [
        {
            "name": "notes.txt",
            "path": str(models_dir_with_junk / "notes.txt"),
            "reason": "not a .gguf file — ignored",
        }
    ]
    assert (
        not rows["truncated-body"]["usable"] and "file bounds" in rows["truncated-body"]["reason"]
    )
    text = run_cli("models", env={"PERFICS_MODELS_DIR": str(models_dir_with_junk)}).stdout
    assert "UNUSABLE" in text and "Q4_1" in text


def test_export_writes_parquet_and_csv(tmp_path):
    assert run_cli("generate", "--model", "smol", "--prompt", "Hi", *GREEDY).returncode == 0
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"gens.{fmt}"
        result = run_cli("export", "generations", "--format", fmt, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "wrote 1 rows" in result.stderr
        assert out.stat().st_size > 0


def test_locked_database_is_a_clear_error():
    db = os.environ["PERFICS_DB"]
    Store(db).init()
    holder = hold_lock(db, 60)
    try:
        result = run_cli(
            "generate", "--model", "smol", "--prompt", "hi", env={"PERFICS_LOCK_TIMEOUT_S": "0.5"}
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1 and "locked by another process" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_a_clear_error():
    result = run_cli("models", env={"PERFICS_N_CTX": "lots"})
    assert result.returncode == 1 and "Invalid setting: PERFICS_N_CTX" in result.stderr
    assert "Traceback" not in result.stderr
