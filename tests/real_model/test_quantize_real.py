"""Quantizing SmolLM2 with llama.cpp's quantizer and measuring the copies' KL divergence from
it. Agreement with llama-perplexity --kl-divergence is measured by scripts/bench_kld.py."""

import json
import shutil

import pytest

from core.engine.gguf_tensors import type_counts
from core.engine.llama import LlamaBackend
from core.engine.quantize import quantize
from core.engine.registry import discover, resolve
from core.errors import InvalidRequest
from tests.support import GEMMA, MODELS_DIR, SMOLLM2, run_cli

pytestmark = pytest.mark.real_model

TEXT = (
    "A bill to amend the Internal Revenue Code to extend the credit for research. To "
    "designate the facility of the United States Postal Service as the Post Office Building. "
    "A bill to improve access to health care in rural areas, and for other purposes. "
) * 6


@pytest.fixture(scope="module")
def ladder_dir(tmp_path_factory):
    """SmolLM2 and its Q8_0 and Q2_K copies in a folder of their own."""
    folder = tmp_path_factory.mktemp("ladder")
    source = folder / f"{SMOLLM2}.gguf"
    shutil.copyfile(MODELS_DIR / f"{SMOLLM2}.gguf", source)
    for qtype in ("Q8_0", "Q2_K"):
        quantize(source, qtype, allow_requantize=True)
    return folder


def load(folder, name, n_ctx=256):
    return LlamaBackend(resolve(name, discover(folder)), n_ctx=n_ctx, threads=2)


def test_a_quantized_copy_is_written_with_the_types_llama_cpp_chose(ladder_dir, tmp_path):
    source = ladder_dir / f"{SMOLLM2}.gguf"
    q8 = ladder_dir / f"{SMOLLM2}-to-Q8_0.gguf"
    assert dict(type_counts(q8)) == {"Q8_0": 211, "F32": 61}  # every matrix, norms stay F32
    # Q2_K: SmolLM2's 576-wide rows are not a multiple of 256, so most tensors fall back.
    q2 = dict(type_counts(ladder_dir / f"{SMOLLM2}-to-Q2_K.gguf"))
    assert q2.get("Q2_K", 0) < 211 and sum(q2.values()) == 272
    assert not list(ladder_dir.glob("*.partial"))
    with pytest.raises(InvalidRequest, match="already quantized"):
        quantize(source, "Q8_0")  # requantizing needs the explicit flag
    with pytest.raises(InvalidRequest, match="already exists"):
        quantize(source, "Q8_0", allow_requantize=True)
    with pytest.raises(InvalidRequest, match="Unknown quantization type Q9_X"):
        quantize(source, "Q9_X", allow_requantize=True)


def test_kld_is_zero_against_an_identical_file_and_grows_with_coarser_types(ladder_dir):
    base = load(ladder_dir, SMOLLM2)
    same = load(MODELS_DIR, SMOLLM2)  # the same weights, loaded separately
    q8 = load(ladder_dir, f"{SMOLLM2}-to-Q8_0")
    q2 = load(ladder_dir, f"{SMOLLM2}-to-Q2_K")
    try:
        itself = same.kl_divergence(base, TEXT, 64)
        assert itself.mean_kld == 0.0 and itself.same_top == 1.0 and itself.ppl_ratio == 1.0
        assert itself.positions == itself.chunks * (64 - 1 - 32)
        near, far = q8.kl_divergence(base, TEXT, 64), q2.kl_divergence(base, TEXT, 64)
        assert 0 < near.mean_kld < far.mean_kld
        assert near.same_top > far.same_top
        # The base's perplexity is the one corpus_perplexity gives on the same chunks.
        assert near.ppl_base == pytest.approx(base.corpus_perplexity(TEXT, 64).perplexity)
        assert near.kld.maximum >= near.kld.at(0.99) >= near.kld.at(0.5) >= near.kld.minimum
    finally:
        for backend in (base, same, q8, q2):
            backend.close()


def test_models_with_different_vocabularies_are_refused(real_models):
    smol = LlamaBackend(resolve(SMOLLM2, real_models), n_ctx=256, threads=2)
    gemma = LlamaBackend(resolve(GEMMA, real_models), n_ctx=256, threads=2)
    try:
        with pytest.raises(InvalidRequest, match="do not share a vocabulary"):
            gemma.kl_divergence(smol, TEXT, 64)
    finally:
        smol.close()
        gemma.close()


def test_quantize_and_kld_cli(ladder_dir, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(ladder_dir / f"{SMOLLM2}.gguf", folder / f"{SMOLLM2}.gguf")
    env = {"PERFICS_MODELS_DIR": str(folder)}
    refused = run_cli("quantize", SMOLLM2, "--types", "Q8_0", env=env)
    assert refused.returncode != 0 and "--allow-requantize" in refused.stderr
    assert "Traceback" not in refused.stderr
    args = ("quantize", SMOLLM2, "--types", "q8_0", "--allow-requantize", "--json")
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    [written] = json.loads(first.stdout)
    assert written["qtype"] == "Q8_0" and written["requantized"] and not written["reused"]
    again = run_cli(*args, env=env)  # resumes: the finished copy is kept
    assert json.loads(again.stdout)[0]["reused"] is True
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    kld = run_cli(
        "kld",
        "--base",
        SMOLLM2,
        "--model",
        f"{SMOLLM2}-to-Q8_0",
        "--file",
        str(text),
        "--ctx",
        "64",
        "--json",
        env=env,
    )
    assert kld.returncode == 0, kld.stderr
    record = json.loads(kld.stdout)
    assert record["mean_kld"] > 0 and 0 < record["same_top"] <= 1
    assert "chunk 1/" in kld.stderr
    bad = run_cli("kld", "--base", SMOLLM2, "--model", SMOLLM2, "--file", str(text), env=env)
    assert bad.returncode != 0 and "same file" in bad.stderr
