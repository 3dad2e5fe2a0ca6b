"""A ladder's plan (which copies to write, which models to measure), its chunk size for short
texts, and its table, without a model."""

import math

import pytest

from core.app.ladder import fitting_ctx, ladder_text, table
from core.errors import InvalidRequest
from core.evaluation.ladder import SOURCE, plan_units, question_score
from core.types import ContinuationScore, ItemKind, Question
from core.types.token_level import LadderConfig, LadderRung
from tests.support import fake_model


def config(types=("Q8_0", "Q2_K")) -> LadderConfig:
    return LadderConfig("m", "", types, True, "text", "t.txt", 64)


def test_copies_already_on_disk_are_measured_but_not_rewritten(tmp_path, monkeypatch):
    source = tmp_path / "m.F16.gguf"
    source.write_bytes(b"GGUF")
    monkeypatch.setattr("core.engine.quantize.is_quantized", lambda path: False)
    (tmp_path / "m.Q8_0.gguf").write_bytes(b"GGUF")  # from an earlier quantization
    info = fake_model("m.F16", "1", path=source)
    units = plan_units(info, config())
    assert [(u.no, u.key.kind, u.key.question_id, u.key.model) for u in units] == [
        (0, ItemKind.QUANTIZE, "Q2_K", "m.F16"),
        (1, ItemKind.LADDER_RUNG, SOURCE, "m.F16"),
        (2, ItemKind.LADDER_RUNG, "Q8_0", "m.Q8_0"),
        (3, ItemKind.LADDER_RUNG, "Q2_K", "m.Q2_K"),
    ]


def test_a_short_text_gets_smaller_chunks_and_a_tiny_one_is_refused():
    assert fitting_ctx(5_000, 512) == 512
    assert fitting_ctx(1_000, 512) == 256  # 1,000 tokens hold two 256-token chunks, not 512
    assert fitting_ctx(40, 512) == 16
    with pytest.raises(InvalidRequest, match="at least 32"):
        fitting_ctx(31, 512)


def test_the_text_comes_from_one_place(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffcafé".encode())  # a BOM is not text
    assert ladder_text(path, None) == ("café", "t.txt")
    with pytest.raises(InvalidRequest, match="not both"):
        ladder_text(path, "builtin")
    with pytest.raises(InvalidRequest, match="Give a text"):
        ladder_text(None, None)


def test_the_table_names_units_and_leaves_the_source_without_kld():
    common = dict(
        tensor_types=(("Q8_0", 211), ("F32", 61)),
        memory_mb=140.0,
        prompt_tokens_per_s=800.0,
        gen_tokens_per_s=50.0,
        gen_tokens=64,
        perplexity_uncertainty=1.0,
        positions=2295,
    )
    source = LadderRung(
        "m",
        SOURCE,
        2**20 * 90,
        requantized=False,
        perplexity=16.0,
        mean_kld=None,
        mean_kld_uncertainty=None,
        kld_p99=None,
        same_top=None,
        same_top_uncertainty=None,
        rms_delta_p=None,
        ppl_ratio=None,
        **common,
    )
    copy = LadderRung(
        "m-to-Q8_0",
        "Q8_0",
        2**20 * 138,
        requantized=True,
        perplexity=16.1,
        mean_kld=0.002,
        mean_kld_uncertainty=0.0001,
        kld_p99=0.02,
        same_top=0.97,
        same_top_uncertainty=0.003,
        rms_delta_p=0.01,
        ppl_ratio=1.006,
        **common,
    )
    df = table([source, copy])
    assert list(df["Type"]) == ["source", "Q8_0"]
    assert list(df["File (MiB)"]) == [90.0, 138.0]
    assert df["Same top token (%)"].iloc[1] == pytest.approx(97.0)
    assert df["RMS Δp (%)"].iloc[1] == pytest.approx(1.0)
    assert df["Mean KLD (nats)"].isna().iloc[0]
    assert df["Tensor types"].iloc[0] == "Q8_0 ×211, F32 ×61"


def _choice(i, logprob, n_chars, is_answer):
    return ContinuationScore(i, " x", is_answer, logprob, 1, n_chars + 1, n_chars, 5)


def test_a_question_scores_by_acc_norm_or_by_bits_per_byte():
    mc = Question("q", "c", "Which?", choices=("long", "no"), reference="long")
    # per character: -4/4 = -1 beats -3/2 = -1.5, although -3 > -4 in total
    assert question_score(mc, [_choice(0, -4.0, 4, True), _choice(1, -3.0, 2, False)]) == 1.0
    assert question_score(mc, [_choice(0, -9.0, 4, True), _choice(1, -3.0, 2, False)]) == 0.0
    # a tie goes to the earlier choice, as lm-evaluation-harness's argmax does
    assert question_score(mc, [_choice(0, -2.0, 2, False), _choice(1, -2.0, 2, True)]) == 0.0
    ref = Question("r", "c", "Say it", reference="yes", reference_kind="answer")
    # 8 bytes at 1 bit each: 2^-1
    half = ContinuationScore(0, " yes1234", True, -8 * math.log(2), 3, 8, 7, 5)
    assert question_score(ref, [half]) == pytest.approx(0.5)
