"""The llama-cpp-python backend on the real embedded models, at temperature 0 with a fixed seed."""

import pytest

from core.engine.llama import LlamaBackend
from core.engine.registry import resolve
from core.errors import InvalidRequest, PromptTooLong, UnusableModel
from core.types import ModelInfo, SamplerSettings
from tests.support import GEMMA

pytestmark = pytest.mark.real_model

GREEDY = SamplerSettings(temperature=0.0, seed=1234, max_tokens=48)
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def test_greedy_chat_is_deterministic_and_streams(smollm2):
    pieces = []
    first = smollm2.chat(QUESTION, GREEDY, pieces.append)
    second = smollm2.chat(QUESTION, GREEDY)
    assert first.text == second.text
    assert "".join(pieces) == first.text
    assert "Paris" in first.text
    assert first.finish_reason == "stop"
    assert first.prompt_format == "chat_template"


def test_generation_record_is_complete_and_consistent(smollm2):
    gen = smollm2.chat(QUESTION, GREEDY)
    assert gen.prompt == QUESTION
    assert 0 < gen.prompt_tokens_evaluated <= gen.prompt_tokens
    assert 0 < gen.completion_tokens <= GREEDY.max_tokens
    assert 0 < gen.ttft_s <= gen.total_s
    assert gen.gen_tokens_per_s and gen.gen_tokens_per_s > 0  # measured; speed is for make bench
    assert gen.peak_rss_mb > 50  # the weights alone are ~98 MB
    assert gen.settings == GREEDY
    assert gen.model_sha256 == smollm2.info.sha256 and len(gen.model_sha256) == 64
    assert gen.llama_cpp_version.startswith("llama-cpp-python ")


def test_a_growing_conversation_reuses_the_kv_cache(smollm2):
    first = smollm2.chat(QUESTION, GREEDY)
    follow_up = QUESTION + [
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And the capital of Italy?"},
    ]
    second = smollm2.chat(follow_up, GREEDY)
    assert second.prompt_tokens > first.prompt_tokens
    # Only the new turn (and the template's few tokens around it) is evaluated.
    assert second.prompt_tokens_evaluated < second.prompt_tokens - first.prompt_tokens + 10
    assert second.prompt_tokens_reused >= first.prompt_tokens - 2


def test_max_tokens_stop_strings_and_grammar(smollm2):
    long = smollm2.complete(
        "Count from one to one hundred: one, two, three,",
        SamplerSettings(temperature=0, seed=1, max_tokens=8),
    )
    assert (long.finish_reason, long.completion_tokens) == ("length", 8)
    stopped = smollm2.complete(
        "Count from one to ten: one, two, three,",
        SamplerSettings(temperature=0, seed=1, max_tokens=40, stop=("six",)),
    )
    assert stopped.finish_reason == "stop" and "six" not in stopped.text and "four" in stopped.text
    verdict = smollm2.chat(
        [{"role": "user", "content": "Is fire hot? Answer yes or no."}],
        SamplerSettings(temperature=0, seed=1, max_tokens=5, grammar='root ::= "yes" | "no"'),
    )
    assert verdict.text in ("yes", "no")


def test_bad_grammar_is_a_clear_error(smollm2):
    with pytest.raises(InvalidRequest, match="grammar"):
        smollm2.chat(QUESTION, SamplerSettings(grammar="root ::= ((("))


def test_empty_prompt_and_too_long_prompt(smollm2):
    with pytest.raises(InvalidRequest, match="empty"):
        smollm2.complete("  ", GREEDY)
    with pytest.raises(PromptTooLong) as err:
        smollm2.complete("word " * 5000, GREEDY)
    assert err.value.context_length == smollm2.n_ctx
    # The backend still works afterwards.
    assert "Paris" in smollm2.chat(QUESTION, GREEDY).text


def test_base_model_without_chat_template_uses_the_fallback_format(real_models):
    backend = LlamaBackend(resolve(GEMMA, real_models), n_ctx=1024, threads=2)
    try:
        gen = backend.chat([{"role": "user", "content": "Name a colour."}], GREEDY)
    finally:
        backend.close()
    assert gen.prompt_format == "fallback"
    assert gen.completion_tokens > 0 and "\nUser:" not in gen.text


def test_loading_a_corrupt_file_raises_unusable_model(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    info = ModelInfo(name="bad", path=bad, file_size=68, usable=True)
    with pytest.raises(UnusableModel, match="bad.gguf"):
        LlamaBackend(info)
    with pytest.raises(UnusableModel, match="truncated"):
        LlamaBackend(ModelInfo(name="x", path=bad, file_size=0, usable=False, reason="truncated"))


def test_model_memory_footprint_is_measured_at_load(smollm2):
    # Weights (a 98 MB file) plus KV cache and buffers, far below the process's peak RSS. The
    # first model loaded in a process also carries llama.cpp's one-time set-up: measured at
    # 138 MiB first and 92 MiB after another model was loaded and closed, so the lower bound
    # is half the file, not the whole of it.
    assert smollm2.info.file_size / 2**20 / 2 < smollm2.memory_mb < 2048
    gen = smollm2.chat(QUESTION, GREEDY)
    assert gen.model_memory_mb == smollm2.memory_mb
