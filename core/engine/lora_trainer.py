"""LoRA training on the CPU with torch, transformers and peft (the optional [train] extra,
imported only here and only when training starts).

- Model: the GGUF file itself, dequantised by transformers to float32
  (`from_pretrained(folder, gguf_file=...)`); the tokenizer is not needed, since examples
  arrive as llama.cpp's token ids (the vocabularies are the same file's).
- Adapter: peft LoRA on every linear layer of the blocks ("all-linear"; not the output
  head), rank, alpha and dropout from LoraSettings; AdamW at a constant learning rate.
- Schedule: step s (1-based, counted over epochs) is batch (s-1) mod steps_per_epoch of its
  epoch's order, a permutation seeded by (seed, epoch): the data order never depends on how
  often the run was interrupted. Padding is on the right, masked by position (attention 0,
  label IGNORE_INDEX).
- Checkpoints (every `checkpoint_every` steps and at the last) hold the adapter, the
  optimiser's state and torch's RNG state (dropout draws), written to a hidden folder and
  renamed, so a stop never leaves half a checkpoint. A run resumed from one gives the same
  losses as one never stopped (with the same thread count: 1 and 2 threads differ in the
  last digits).
- CPU: OMP_WAIT_POLICY=PASSIVE, else training runs about 10x slower whenever another process
  uses the cores; it must be set before llama.cpp or torch is loaded
  (core/engine/training_packages.prefer_passive_openmp).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.lora_gguf import write_lora_gguf
from core.engine.training_packages import (
    import_training,
    prefer_passive_openmp,
    require_training_packages,
)
from core.errors import InvalidRequest
from core.types.finetune import (
    IGNORE_INDEX,
    FinetuneStep,
    FinetuneValidation,
    LoraSettings,
    TrainingExample,
)

STATE_FILE = "trainer_state.pt"
CHECKPOINT_PREFIX = "step-"

OnStep = Callable[[FinetuneStep], None]
OnValidation = Callable[[FinetuneValidation], None]


def _torch():
    prefer_passive_openmp()  # effective only if nothing loaded OpenMP yet (see there)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    return import_training("torch")


def _quiet(transformers) -> None:
    """No progress bars or deprecation notes from transformers and peft on the CLI's stderr
    or in the worker's log: our own progress reports the steps."""
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    # peft looks for a config.json beside the GGUF to see whether the vocabulary changed.
    warnings.filterwarnings("ignore", message="Could not find a config file", module=r"peft\.")


@contextlib.contextmanager
def _flushing_denormals(torch) -> Iterator[None]:
    """Treat subnormal floats as zero while training, which keeps CPU steps from slowing
    down on them. It is processor state for the whole thread, so it is switched back off
    afterwards: left on, it changed later arithmetic in the same process (hypothesis, for
    one, refuses to run with it)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@dataclass
class BaseModel:
    """The base model in float32, ready for an adapter, and its transformers config."""

    model: Any
    hf_config: dict
    load_seconds: float


def load_base_model(path: Path, threads: int) -> BaseModel:
    require_training_packages()
    torch = _torch()
    torch.set_num_threads(threads)
    transformers = import_training("transformers")
    _quiet(transformers)
    started = time.perf_counter()
    try:
        # Its GGUF reader draws a tqdm bar of its own, which no setting of transformers hides.
        with contextlib.redirect_stderr(io.StringIO()):
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float32
            )
    except (ValueError, OSError, KeyError) as exc:
        raise InvalidRequest(f"transformers cannot load {path.name} for training: {exc}") from exc
    model.config.use_cache = False
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    return BaseModel(model, config, time.perf_counter() - started)


def steps_per_epoch(n_train: int, settings: LoraSettings) -> int:
    return math.ceil(n_train / settings.batch_size)


def total_steps(n_train: int, settings: LoraSettings) -> int:
    return settings.epochs * steps_per_epoch(n_train, settings)


def batch_of(step: int, n_train: int, settings: LoraSettings) -> tuple[int, list[int]]:
    """(epoch, example indices) of optimiser step `step` (1-based)."""
    per_epoch = steps_per_epoch(n_train, settings)
    epoch, position = divmod(step - 1, per_epoch)
    order = np.random.default_rng([settings.seed, epoch + 1]).permutation(n_train)
    size = settings.batch_size
    return epoch + 1, [int(i) for i in order[position * size : (position + 1) * size]]


def latest_checkpoint(folder: Path) -> tuple[int, Path] | None:
    """(step, folder) of the newest complete checkpoint, or None."""
    found = [
        (int(p.name.removeprefix(CHECKPOINT_PREFIX)), p)
        for p in folder.glob(f"{CHECKPOINT_PREFIX}*")
        if p.is_dir() and (p / STATE_FILE).is_file()
    ]
    return max(found) if found else None


class LoraTrainer:
    """Trains one adapter on a base model (which it wraps in place) and checkpoints it under
    `checkpoints`, resuming from the newest checkpoint there."""

    def __init__(self, base: BaseModel, settings: LoraSettings, checkpoints: Path):
        self.torch = _torch()
        self.base = base
        self.settings = settings
        self.checkpoints = Path(checkpoints)
        self.model = None
        self.optimizer = None
        self.done = 0  # optimiser steps finished, checkpointed or not

    def prepare(self) -> int:
        """Add the adapter, fresh or from the newest checkpoint; returns the step it resumes
        after (0 for a fresh start)."""
        torch, peft = self.torch, import_training("peft")
        torch.set_num_threads(self.settings.threads)
        found = latest_checkpoint(self.checkpoints)
        if found is None:
            torch.manual_seed(self.settings.seed)  # the adapter's initial A matrices, dropout
            config = peft.LoraConfig(
                r=self.settings.rank,
                lora_alpha=self.settings.alpha,
                lora_dropout=self.settings.dropout,
                target_modules="all-linear",
                task_type="CAUSAL_LM",
            )
            self.model = peft.get_peft_model(self.base.model, config)
        else:
            _, folder = found
            state = torch.load(folder / STATE_FILE, weights_only=True)
            if LoraSettings.from_json(state["settings"]) != self.settings:
                raise InvalidRequest(f"The checkpoint in {folder} was made with other settings.")
            self.model = peft.PeftModel.from_pretrained(self.base.model, folder, is_trainable=True)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=self.settings.learning_rate)
        if found is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"])
        self.model.train()
        self.done = found[0] if found else 0
        return self.done

    @property
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def _collate(self, batch: Sequence[TrainingExample]):
        torch = self.torch
        width = max(len(e.input_ids) for e in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, example in enumerate(batch):
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            labels[row, :n] = torch.tensor(example.labels)
            attention[row, :n] = 1
        return ids, attention, labels

    def train(
        self,
        train: Sequence[TrainingExample],
        validation: Sequence[TrainingExample],
        on_step: OnStep,
        on_validation: OnValidation,
        check_stop: Callable[[], None],
    ) -> None:
        """Every step after the last checkpoint; check_stop() runs before each step and may
        raise to stop (the work since the last checkpoint is then redone on resume)."""
        total = total_steps(len(train), self.settings)
        with _flushing_denormals(self.torch):
            self._steps(train, validation, total, on_step, on_validation, check_stop)

    def _steps(self, train, validation, total, on_step, on_validation, check_stop) -> None:
        for step in range(self.done + 1, total + 1):
            check_stop()
            epoch, picked = batch_of(step, len(train), self.settings)
            ids, attention, labels = self._collate([train[i] for i in picked])
            started = time.perf_counter()
            loss = self.model(input_ids=ids, attention_mask=attention, labels=labels).loss
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - started
            self.done = step
            on_step(FinetuneStep(step, epoch, float(loss.item()), int(attention.sum()), seconds))
            if step % self.settings.checkpoint_every == 0 or step == total:
                self.checkpoint()
                if validation:
                    on_validation(self.validation_loss(validation))

    def validation_loss(self, examples: Sequence[TrainingExample]) -> FinetuneValidation:
        """Mean loss over every answer token of the examples, without dropout; torch's RNG is
        left as it was, so measuring never changes the training that follows."""
        torch = self.torch
        rng = torch.get_rng_state()
        self.model.eval()
        total, tokens = 0.0, 0
        try:
            with torch.no_grad():
                size = self.settings.batch_size
                for start in range(0, len(examples), size):
                    ids, attention, labels = self._collate(examples[start : start + size])
                    out = self.model(input_ids=ids, attention_mask=attention, labels=labels)
                    # The model shifts labels by one; its loss is the mean over those left.
                    n = int((labels[:, 1:] != IGNORE_INDEX).sum())
                    total += float(out.loss.item()) * n
                    tokens += n
        finally:
            self.model.train()
            torch.set_rng_state(rng)
        return FinetuneValidation(self.done, total / tokens, len(examples))

    def checkpoint(self) -> Path:
        """Save the adapter, optimiser and RNG state after the current step; older
        checkpoints are removed once this one is complete."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        name = f"{CHECKPOINT_PREFIX}{self.done:06d}"
        partial = self.checkpoints / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.model.save_pretrained(str(partial))
        state = {
            "step": self.done,
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": self.torch.get_rng_state(),
            "settings": self.settings.to_json(),
        }
        self.torch.save(state, partial / STATE_FILE)
        final = self.checkpoints / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for older in self.checkpoints.glob(f"{CHECKPOINT_PREFIX}*"):
            if older != final:
                shutil.rmtree(older, ignore_errors=True)
        return final

    def write_gguf(self, out: Path) -> None:
        """The newest checkpoint's adapter as a GGUF LoRA adapter at `out`."""
        found = latest_checkpoint(self.checkpoints)
        if found is None:
            raise InvalidRequest(f"No checkpoint in {self.checkpoints} to write an adapter from.")
        write_lora_gguf(found[1], self.base.hf_config, out)
