"""Bad inputs only llama.cpp can judge, on the real SmolLM2: perplexity's chunk size and a text
too short for it, and quantizing onto a full disk or into a read-only models folder (real
mounts where the machine allows, tests/media_support.py). One `error:` line each, exit 1,
and nothing half-written left next to the source."""

import subprocess

import pytest

from core.app.cli import main
from tests.fault.fault_support import file_size_limit
from tests.media_support import read_only_folder, small_tmpfs
from tests.support import CLI, MODELS_DIR, ROOT, SMOLLM2

pytestmark = pytest.mark.real_model

QUANTIZE = ["quantize", SMOLLM2, "--types", "Q8_0", "--allow-requantize", "--quiet"]


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_perplexity_refuses_a_chunk_size_out_of_range_and_a_text_too_short(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("PERFICS_N_CTX", "256")  # the model's context: the largest chunk
    text = tmp_path / "t.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for ctx in ("8", "257"):
        assert main(["perplexity", "--model", SMOLLM2, "--file", str(text), "--ctx", ctx]) == 1
        line = error_line(capsys.readouterr().err)
        assert f"--ctx must be between 16 and 256, got {ctx}" in line
    assert main(["perplexity", "--model", SMOLLM2, "--file", str(empty), "--ctx", "16"]) == 1
    line = error_line(capsys.readouterr().err)
    assert "The text is 0 tokens; a 16-token context needs at least 32 (two chunks)" in line


def _models_with_smollm2(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SMOLLM2}.gguf").symlink_to(MODELS_DIR / f"{SMOLLM2}.gguf")
    return folder


def test_quantizing_onto_a_full_disk_says_so_and_leaves_no_partial_copy(
    capsys, tmp_path, monkeypatch
):
    folder = tmp_path / "models"
    with small_tmpfs(folder, "1m") as mounted:
        _models_with_smollm2(folder)
        monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
        if mounted:  # a 1 MiB tmpfs: the Q8_0 copy (about 140 MiB) cannot fit
            code, err = main(QUANTIZE), capsys.readouterr().err
        else:  # no mount here: files this process writes stop growing at 1 MiB instead
            done = subprocess.run(
                [*CLI, *QUANTIZE],
                cwd=ROOT,
                capture_output=True,
                text=True,
                preexec_fn=file_size_limit(2**20),
                timeout=300,
            )
            code, err = done.returncode, done.stderr
        line = error_line(err)
        assert code == 1
        assert f"llama.cpp could not quantize {SMOLLM2}.gguf to Q8_0:" in line
        if mounted:
            assert f"the disk holding {folder} is full" in line and "free some space" in line
        assert [p.name for p in folder.iterdir()] == [f"{SMOLLM2}.gguf"]


def test_quantizing_into_a_read_only_models_folder_is_a_clear_error(capsys, tmp_path, monkeypatch):
    with read_only_folder(_models_with_smollm2(tmp_path / "models")) as media:
        monkeypatch.setenv("PERFICS_MODELS_DIR", str(media.path))
        if media.in_process:
            code, err = main(QUANTIZE), capsys.readouterr().err
        else:
            done = media.run_cli(*QUANTIZE)
            code, err = done.returncode, done.stderr
        line = error_line(err)
        assert code == 1, media.how
        assert f"Cannot write the copy {SMOLLM2}-to-Q8_0.gguf into {media.path}" in line
        assert [p.name for p in media.path.iterdir()] == [f"{SMOLLM2}.gguf"]
