"""SmolLM2 and Gemma 3 with synthetic LoRA adapters (tests/lora_support.py): an adapter whose
lora_b is zero must change nothing, to the last token and log-probability; one with a random
lora_b must change greedy answers; an adapter llama.cpp refuses must never run as its base;
and the features that take a model name take "<base>+<adapter>"."""

import json

import numpy as np
import pytest

from core.app import classify
from core.app.cli import main
from core.engine.adapters import pair_sha256
from core.engine.embedding import LlamaEmbedder
from core.engine.file_cache import sha256_file
from core.engine.llama import LlamaBackend
from core.engine.registry import discover, resolve
from core.errors import UnusableModel
from core.types import SamplerSettings
from core.types.finetune import ADAPTER_FILE
from tests.lora_support import (
    GEMMA_FILE,
    SMOLLM2_FILE,
    TUNED,
    ZERO,
    linked_models,
    manifest_for,
    write_adapter,
    write_lora_gguf,
)
from tests.support import DATA, GEMMA, SMOLLM2, run_cli
from tests.unit.classify_cli_data import import_files, write_files

GREEDY = SamplerSettings(temperature=0.0, max_tokens=32, seed=7)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def listed(adapter_models_dir, tmp_path_factory):
    return discover(adapter_models_dir, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def backends(listed):
    """SmolLM2 alone and with each adapter, loaded alike."""
    loaded = {n: LlamaBackend(resolve(n, listed), n_ctx=1024) for n in (SMOLLM2, ZERO, TUNED)}
    yield loaded
    for backend in loaded.values():
        backend.close()


@pytest.fixture
def models_dir(adapter_models_dir, monkeypatch):
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(adapter_models_dir))
    return adapter_models_dir


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_adapters_are_listed_after_their_base_with_the_pair_as_identity(listed, adapter_models_dir):
    assert [m.name for m in listed] == [SMOLLM2, TUNED, ZERO]
    base = listed[0]
    assert base.sha256 == sha256_file(SMOLLM2_FILE) and not base.is_adapter
    for name in (TUNED, ZERO):
        info = resolve(name, listed)
        adapter = adapter_models_dir / "adapters" / name.split("+")[1] / ADAPTER_FILE
        assert info.usable and info.adapter_path == adapter
        assert info.sha256 == pair_sha256(base.sha256, sha256_file(adapter))
        assert (info.architecture, info.context_length) == ("llama", 8192)
    assert resolve("SmolLM2", listed).name == SMOLLM2  # the base, as before adapters


def test_rewriting_an_adapter_changes_its_identity(tmp_path):
    folder = linked_models(tmp_path / "models", SMOLLM2_FILE)
    write_adapter(folder, "tuned", rank=4)
    before = resolve(TUNED, discover(folder, tmp_path / "cache"))
    write_lora_gguf(folder / "adapters" / "tuned" / ADAPTER_FILE, rank=4, seed=1)
    after = resolve(TUNED, discover(folder, tmp_path / "cache"))
    assert after.sha256 != before.sha256 and after.base_sha256 == before.base_sha256


def test_a_zero_adapter_answers_as_the_base_and_a_tuned_one_does_not(backends):
    answers = {name: b.chat(QUESTION, GREEDY) for name, b in backends.items()}
    base = answers[SMOLLM2].text
    assert "Paris" in base
    assert answers[ZERO].text == base
    assert answers[TUNED].text != base
    for name, gen in answers.items():
        assert gen.model_name == name and gen.model_sha256 == backends[name].info.sha256
        assert backends[name].memory_mb > 0  # measured with mmap off too
    scores = {n: b.score_text("The capital of France is", " Paris.") for n, b in backends.items()}
    base_logprobs = [t.logprob for t in scores[SMOLLM2].tokens]
    assert [t.logprob for t in scores[ZERO].tokens] == pytest.approx(base_logprobs, abs=1e-5)
    tuned = [t.logprob for t in scores[TUNED].tokens]
    assert max(abs(a - b) for a, b in zip(tuned, base_logprobs, strict=True)) > 0.1


def test_embeddings_carry_the_adapter_too(listed):
    texts = ["A bill to fund rural hospitals.", "A bill on farm subsidies."]
    vectors = {}
    for name in (SMOLLM2, ZERO, TUNED):
        embedder = LlamaEmbedder(resolve(name, listed), n_ctx=256)
        vectors[name] = embedder.embed(texts)
        embedder.close()
    np.testing.assert_allclose(vectors[ZERO], vectors[SMOLLM2], atol=1e-5)
    cosines = np.sum(vectors[TUNED] * vectors[SMOLLM2], axis=1)
    assert (cosines < 0.99).all()


def test_an_adapter_llama_cpp_refuses_never_runs_as_its_base(tmp_path, monkeypatch, capsys):
    """Its header passes the listing (a llama LoRA), but its tensors are Gemma's shapes.
    llama-cpp-python 0.3.36 would go on without the adapter; we refuse instead."""
    folder = linked_models(tmp_path / "models", SMOLLM2_FILE)
    write_adapter(folder, "misfit", base=GEMMA_FILE, arch="llama", targets=("attn_q",))
    manifest = manifest_for("misfit", SMOLLM2, sha256_file(SMOLLM2_FILE))
    (folder / "adapters" / "misfit" / "manifest.json").write_text(json.dumps(manifest.to_json()))
    info = resolve(f"{SMOLLM2}+misfit", discover(folder))
    assert info.usable
    with pytest.raises(UnusableModel, match="has incorrect shape"):
        LlamaBackend(info, n_ctx=256)
    with pytest.raises(UnusableModel, match="has incorrect shape"):
        LlamaEmbedder(info, n_ctx=256)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(folder))
    code, out, err = cli(capsys, "generate", "--model", f"{SMOLLM2}+misfit", "--prompt", "Hi")
    assert code != 0 and out == ""
    assert f"cannot apply it to {SMOLLM2}: tensor 'blk.0.attn_q.weight' has incorrect shape" in err
    assert "Traceback" not in err


def test_generate_through_the_cli_keeps_stderr_clean(tmp_path, adapter_models_dir):
    """Gemma's output projections are repacked for the CPU, so llama.cpp warns, per tensor,
    that their adapter cannot use that buffer type: harmless, and kept off the terminal."""
    folder = linked_models(tmp_path / "models", SMOLLM2_FILE, GEMMA_FILE)
    write_adapter(folder, "out", base=GEMMA_FILE, targets=("attn_output",), b_scale=0.05)
    for adapter in ("tuned", "zero"):
        (folder / "adapters" / adapter).symlink_to(adapter_models_dir / "adapters" / adapter)
    env = {"PERFICS_MODELS_DIR": str(folder)}
    args = ["--prompt", "The capital of France is", "--temperature", "0", "--max-tokens", "8"]
    done = run_cli("generate", "--model", f"{GEMMA}+out", *args, "--raw", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        done.stderr.strip()
    ] and done.stderr.strip().startswith("[")  # only our own figures
    done = run_cli("generate", "--model", TUNED, *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    tuned = resolve(TUNED, discover(folder))
    assert (record["model_name"], record["model_sha256"]) == (TUNED, tuned.sha256)


def test_a_coding_run_through_the_cli(capsys, models_dir, tmp_path, store):
    import_files(capsys, write_files(tmp_path))
    models = ",".join((ZERO, TUNED, "SmolLM2"))
    code, out, err = cli(
        capsys, "classify", "run", "--dataset", "bills", "--codebook", "topics",
        "--models", models, "--quiet", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "completed"
    proposals = classify.proposals("bills", "topics").sort_values("text_id")
    by_model = {m: list(g.label) for m, g in proposals.groupby("model")}
    assert set(by_model) == {SMOLLM2, ZERO, TUNED}
    assert by_model[ZERO] == by_model[SMOLLM2] and len(by_model[ZERO]) == 6
    known = set(store.db.query_df("SELECT name, sha256 FROM models", []).itertuples(index=False))
    listed = discover(models_dir)
    assert (ZERO, resolve(ZERO, listed).sha256) in known


def test_a_benchmark_a_likelihood_run_and_the_ranking_take_adapters(capsys, models_dir, store):
    sampling = ["--temperature", "0", "--max-tokens", "32", "--quiet", "--json"]
    models = f"{ZERO},{SMOLLM2}"
    code, out, err = cli(
        capsys, "run", "--suite", "builtin", "--models", models, "--rounds", "1",
        "--limit", "1", "--judge", SMOLLM2, *sampling,
    )  # fmt: skip
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    answers = store.db.query_df(
        "SELECT model_name, item_no, step, text FROM generations WHERE run_id = ?", [run_id]
    )
    zero = sorted(answers[answers.model_name == ZERO].text)
    base = sorted(answers[answers.model_name == SMOLLM2].text)
    assert len(zero) == 3 and zero == base  # the answer, its critique and its rewrite
    # SmolLM2 judges poorly (its verdict says so); accepted here, the names are the point.
    code, out, err = cli(capsys, "rank", "--run", run_id, "--json", "--accept-unreliable-judge")
    assert code == 0, err
    assert {row["model"] for row in json.loads(out)["models"]} == {ZERO, SMOLLM2}
    assert cli(capsys, "suite", "import", str(DATA / "mc_simple.jsonl"), "--name", "mc")[0] == 0
    code, out, err = cli(
        capsys, "run", "--suite", "mc", "--measure", "likelihood", "--models", models, "--json",
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(capsys, "results", "--run", json.loads(out)["run_id"], "--json")
    overall = {r["model"]: r for r in json.loads(out)["results"] if r["category"] == "all"}
    assert overall[ZERO]["mc_items"] == overall[SMOLLM2]["mc_items"] > 0
    for figure in ("mc_accuracy", "mc_accuracy_norm"):
        assert overall[ZERO][figure] == overall[SMOLLM2][figure]
