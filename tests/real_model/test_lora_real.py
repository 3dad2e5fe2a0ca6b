"""LoRA fine-tuning on the real SmolLM2, kept tiny (a few bill titles, one to four optimiser
steps): a fine-tuning run end to end (adapter.gguf and manifest.json written, loaded by
llama.cpp with lora_path, changing the next-token distribution), the adapter in llama.cpp
agreeing with the PyTorch model it came from, and a stopped and resumed training giving the
same losses as an uninterrupted one.

The base model is loaded by transformers once for the module (about 11 s of the total);
each training wraps its own deep copy, since peft changes the model it wraps."""

import copy
import math
import os

import numpy as np
import pytest

# As the trainer sets it, but before this module imports torch: spinning OpenMP threads make
# training about 10x slower while anything else uses the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
pytest.importorskip("torch")
pytest.importorskip("peft")

from core.app import finetune  # noqa: E402
from core.engine.coding_tokens import LlamaCodingTokens  # noqa: E402
from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.llama_scoring import CanonicalScorer  # noqa: E402
from core.engine.lora_trainer import LoraTrainer, load_base_model  # noqa: E402
from core.engine.registry import resolve  # noqa: E402
from core.evaluation.coding import CodingTask, messages  # noqa: E402
from core.evaluation.finetune_examples import build_examples  # noqa: E402
from core.types import RunStatus  # noqa: E402
from core.types.classification import (  # noqa: E402
    Codebook,
    CodebookLabel,
    LabelValue,
    TextRecord,
)
from core.types.finetune import LoraSettings  # noqa: E402
from core.types.learning import LabelSource  # noqa: E402
from tests.support import SMOLLM2  # noqa: E402

BOOK = Codebook(
    "cap3",
    (
        CodebookLabel("3", "Health"),
        CodebookLabel("4", "Agriculture"),
        CodebookLabel("16", "Defence"),
    ),
)
BILLS = [
    ("b1", "A bill to improve access to rural hospitals and clinics.", "3"),
    ("b2", "A bill to extend crop insurance for corn and soybean farmers.", "4"),
    ("b3", "A bill to authorize appropriations for the Navy's new submarines.", "16"),
    ("b4", "A bill to expand vaccine programs for children.", "3"),
    ("b5", "A bill to support dairy farmers hit by low milk prices.", "4"),
]
HELD_OUT = "A bill to fund cancer research at the National Institutes of Health."
# A learning rate well above the default, so one step moves the model measurably further
# than llama.cpp's quantised arithmetic differs from PyTorch's float32.
SETTINGS = LoraSettings(batch_size=4, learning_rate=5e-3, checkpoint_every=2)


@pytest.fixture(scope="module")
def smollm2_info(real_models):
    return resolve(SMOLLM2, real_models)


@pytest.fixture(scope="module")
def base(smollm2_info):
    return load_base_model(smollm2_info.path, threads=2)


@pytest.fixture(scope="module")
def tokens(smollm2_info):
    backend = LlamaBackend(smollm2_info, n_ctx=512, threads=2)
    yield LlamaCodingTokens(backend)
    backend.close()


def _examples(tokens):
    texts = {tid: text for tid, text, _ in BILLS}
    labels = {tid: (code,) for tid, _, code in BILLS}
    return build_examples(tokens, CodingTask(BOOK), list(texts), texts, labels, 384)


def _next_log_probs(model_path, prompt, adapter=None) -> np.ndarray:
    from llama_cpp import Llama

    extra = {"lora_path": str(adapter)} if adapter else {}
    llm = Llama(model_path=str(model_path), n_ctx=512, n_threads=2, verbose=False, **extra)
    try:
        return CanonicalScorer(llm).next_log_probs(prompt)
    finally:
        llm.close()


def _torch_log_probs(model, prompt) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt])).logits[0, -1].double()
    return torch.log_softmax(logits, -1).numpy()


def _kl(p_log: np.ndarray, q_log: np.ndarray) -> float:
    return float(np.sum(np.exp(p_log) * (p_log - q_log)))


def test_a_fine_tuning_run_writes_an_adapter_llama_cpp_applies(
    store, base, tokens, smollm2_info, monkeypatch, tmp_path
):
    import gguf

    models = tmp_path / "models"  # the adapter is written beside the model, not in models/
    models.mkdir()
    (models / smollm2_info.path.name).symlink_to(smollm2_info.path)
    monkeypatch.setenv("PERFICS_MODELS_DIR", str(models))
    store.init()
    store.datasets.save(
        "bills", "memory", [TextRecord(t, x, (LabelValue(c),)) for t, x, c in BILLS]
    )
    store.codebooks.save(BOOK, "memory")
    monkeypatch.setattr(  # the module's loaded base instead of a second 11 s load
        finetune,
        "_open_trainer",
        lambda model, settings, folder: LoraTrainer(copy.deepcopy(base), settings, folder),
    )
    reports = []
    manifest = finetune.train_adapter(
        "bills-tiny",
        "bills",
        "cap3",
        smollm2_info,
        train_ids=["b1", "b2", "b3", "b4"],
        validation_ids=["b5"],
        source=LabelSource.GOLD,
        settings=SETTINGS,
        on_progress=lambda *r: reports.append(r),
    )
    assert reports[-1][:2] == (1, 1)
    [step] = store.finetune.steps(manifest.run_id)
    assert store.runs.get(manifest.run_id).status == RunStatus.COMPLETED
    assert (manifest.steps, manifest.train_size, manifest.validation_size) == (1, 4, 1)
    assert manifest.tokens_trained == step.tokens > 4 * 60  # the four prompts, unpadded
    assert math.isfinite(step.loss) and step.loss > 0 and manifest.final_train_loss == step.loss
    assert math.isfinite(manifest.validation_loss)
    assert manifest.base_sha256 == smollm2_info.sha256 and manifest.architecture == "llama"
    # Training flushes subnormal floats to zero, and must switch that back off afterwards.
    assert (np.array([5e-324]) * 1.0)[0] > 0
    print(f"\nSmolLM2 LoRA: {manifest.tokens_trained} tokens in {manifest.train_seconds:.2f} s")

    folder = models / "adapters" / "bills-tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["adapter.gguf", "manifest.json"]
    reader = gguf.GGUFReader(str(folder / "adapter.gguf"))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.lora.alpha"].contents() == 16.0
    assert len(reader.tensors) == 30 * 7 * 2  # q k v o gate up down in 30 blocks
    assert [m.name for m in finetune.adapters()] == ["bills-tiny"]
    assert not (tmp_path / "db" / "finetune" / manifest.run_id).exists()  # checkpoints gone

    prompt = tokens.prompt(messages(CodingTask(BOOK), HELD_OUT))
    plain = _next_log_probs(smollm2_info.path, prompt)
    adapted = _next_log_probs(smollm2_info.path, prompt, folder / "adapter.gguf")
    print(f"KL adapter vs base after one step: {_kl(adapted, plain):.4f}")
    assert _kl(adapted, plain) > 0.01
    finetune.delete_adapter("bills-tiny")
    assert not folder.exists()


def _train(base, tokens, folder, stop_after=None):
    """Losses of steps 1..4 (batch 1, four examples), stopping after `stop_after` steps."""
    settings = LoraSettings(batch_size=1, checkpoint_every=2, learning_rate=5e-3)
    trainer = LoraTrainer(copy.deepcopy(base), settings, folder)
    start = trainer.prepare()
    losses = []

    class Stop(Exception):
        pass

    def check_stop():
        if stop_after is not None and trainer.done >= stop_after:
            raise Stop

    try:
        trainer.train(
            _examples(tokens)[:4], [], lambda s: losses.append(s.loss), lambda v: None, check_stop
        )
    except Stop:
        pass
    return trainer, start, losses


def test_a_resumed_training_gives_the_losses_of_an_uninterrupted_one(base, tokens, tmp_path):
    whole, start, losses = _train(base, tokens, tmp_path / "whole")
    assert start == 0 and len(losses) == 4
    _, start, first = _train(base, tokens, tmp_path / "halves", stop_after=2)
    assert (start, len(first)) == (0, 2)
    _, start, second = _train(base, tokens, tmp_path / "halves")
    assert start == 2
    assert first + second == losses  # bit for bit: same data order, optimiser and dropout
    assert losses[0] != losses[1]  # the steps saw different texts, so the check has teeth

    # The adapter in llama.cpp agrees with the PyTorch model it was written from about as
    # well as the quantised base agrees with its float32 self, and both far better than the
    # adapter moves the model. (Written without the q/k row permutation, the adapter missed
    # by several times more: lora_gguf.py.)
    adapter = tmp_path / "adapter.gguf"
    whole.write_gguf(adapter)
    prompt = tokens.prompt(messages(CodingTask(BOOK), HELD_OUT))
    path = tokens.backend.info.path
    llama, llama_adapted = _next_log_probs(path, prompt), _next_log_probs(path, prompt, adapter)
    effect = _kl(llama_adapted, llama)
    base_gap = _kl(_torch_log_probs(base.model, prompt), llama)
    adapter_gap = _kl(_torch_log_probs(whole.model, prompt), llama_adapted)
    print(
        f"\nKL: adapter vs base {effect:.4f}; PyTorch vs llama.cpp, base {base_gap:.4f}, "
        f"with the adapter {adapter_gap:.4f}"
    )
    assert adapter_gap < 2 * base_gap + 0.002
    assert adapter_gap < effect / 100
