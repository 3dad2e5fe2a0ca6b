"""Corpus perplexity on SmolLM2, checked position by position against the canonical
next-token scorer. Agreement with
llama.cpp's own llama-perplexity is measured by scripts/bench_perplexity.py, which builds it."""

import json
import math

import pytest

from core.engine.llama import LlamaBackend
from core.engine.registry import resolve
from core.errors import InvalidRequest
from tests.support import SMOLLM2, run_cli

pytestmark = pytest.mark.real_model

TEXT = (
    "To suspend temporarily the duty on certain chemicals. A bill to amend the Internal "
    "Revenue Code to extend the credit for research. To designate the facility of the "
    "United States Postal Service as the Post Office Building. A bill to improve access to "
    "health care in rural areas, and for other purposes. To provide for the conservation of "
    "wild horses on public lands. "
) * 2


@pytest.fixture(scope="module")
def smollm2_backend(real_models):
    loaded = LlamaBackend(resolve(SMOLLM2, real_models), n_ctx=512, threads=2)
    yield loaded
    loaded.close()


def test_each_chunk_scores_its_second_half_as_the_canonical_scorer_does(smollm2_backend):
    n_ctx = 32
    result = smollm2_backend.corpus_perplexity(TEXT, n_ctx)
    tokens = smollm2_backend.llm.tokenize(TEXT.encode(), add_bos=True, special=False)
    assert result.chunks == len(tokens) // n_ctx >= 2
    assert result.tokens_scored == result.chunks * (n_ctx - 1 - n_ctx // 2)
    nlls, shifted = [], []
    for c in range(result.chunks):
        chunk = tokens[c * n_ctx : (c + 1) * n_ctx]  # SmolLM2 adds no BOS: nothing replaced
        for p in range(n_ctx // 2, n_ctx - 1):
            row = smollm2_backend._scorer.next_log_probs(chunk[: p + 1])
            nlls.append(-float(row[chunk[p + 1]]))
            shifted.append(-float(row[chunk[p]]))  # a row scored against the wrong token
        smollm2_backend._scorer.forget()
        smollm2_backend._clear_kv()
    # Single-token and batched evaluation differ slightly in llama.cpp's kernels (0.13 % here);
    # scoring one position off moves the figure by a factor of several.
    assert result.perplexity == pytest.approx(math.exp(sum(nlls) / len(nlls)), rel=5e-3)
    assert math.exp(sum(shifted) / len(shifted)) > 2 * result.perplexity
    assert len(result.chunk_perplexities) == result.chunks
    assert result.chunk_perplexities[-1] == pytest.approx(result.perplexity)


def test_a_text_shorter_than_two_chunks_is_refused(smollm2_backend):
    with pytest.raises(InvalidRequest, match="at least 1024"):
        smollm2_backend.corpus_perplexity("Too short.", 512)


def test_perplexity_cli(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = run_cli("perplexity", "--model", SMOLLM2, "--file", str(text), "--ctx", "32", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["chunks"] >= 2 and record["perplexity"] > 1
    assert "chunk 1/" in out.stderr  # progress, one line per chunk
    missing = run_cli("perplexity", "--model", SMOLLM2, "--file", str(tmp_path / "nope.txt"))
    assert missing.returncode != 0 and "No such file" in missing.stderr
    assert "Traceback" not in missing.stderr
