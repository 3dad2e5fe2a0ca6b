"""LoRA training speed: tokens per second through our fine-tuning job's trainer
(core/engine/lora_trainer.LoraTrainer, as core/evaluation/finetune_run.py drives it) against a
plain transformers + peft loop written here, side by side in one process.

Data: a seeded sample of bill titles from the shared US Congress set, coded with the CAP
major-topic codebook, turned into training examples by our example builder
(core/evaluation/finetune_examples.py: the workbench's zero-shot coding prompt through
llama.cpp's tokens, loss on the answer only). Both sides train the same batches of the same
token ids and labels (the trainer's seeded schedule, batch_of), padded on the right (attention
0, label -100), with the same LoraConfig (LoraSettings' defaults: r 8, alpha 16, dropout 0.05,
every linear layer), AdamW at the same learning rate, the same threads and flush-denormal.

Plain side: `AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=...)` in float32,
`get_peft_model`, then per step forward with labels, backward, `optimizer.step()`,
`zero_grad()` — what the peft documentation shows.

Timing: blocks of steps; in each block both sides train the same number of steps and which
goes first alternates, so drift on the machine hits both. Wall clock around each block (ours:
`LoraTrainer.train` up to the block's last step, its bookkeeping included; no checkpoint
falls inside, since the schedule is one batch longer than the steps timed). Tokens = non-pad
tokens through forward + backward + update. Each side keeps its own torch RNG stream (swapped
in around its blocks), as if it ran alone, so with the same seed both draw the same initial
adapter and the same dropout masks, and their per-step losses should agree to float noise.
Before timing, each side runs one forward and backward pass on the first batch, without an
update (its gradients are then dropped, and its RNG stream restored), so the process's
first backward pass, which grows the allocator's pools, falls on neither side's clock.
OMP_WAIT_POLICY=PASSIVE is set before torch or llama.cpp load (see
core/engine/training_packages.py). The CPU other processes used meanwhile is printed.
A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch or llama.cpp loads libgomp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LORA_TARGET = 0.90


class _BlockDone(Exception):
    """Raised by check_stop to end LoraTrainer.train after a block's steps."""


@dataclass
class Side:
    name: str
    seconds: float = 0.0
    tokens: int = 0
    losses: list[float] = field(default_factory=list)
    blocks: list[float] = field(default_factory=list)  # tokens/s of each block
    timed_inside: float = 0.0  # ours: the seconds its own step timer recorded
    rng: object = None  # this side's torch RNG state between its blocks


def _examples(info, n: int, seed: int, settings):
    """n training examples built by our example builder from a seeded sample of bills."""
    from core.engine.coding_tokens import LlamaCodingTokens
    from core.engine.llama import LlamaBackend
    from core.evaluation.coding import CodingTask
    from core.evaluation.finetune_examples import build_examples
    from tests.support import cap_codebook, congress_bills

    bills = congress_bills(n, seed)
    texts = {b.id: b.text for b in bills}
    labelled = {b.id: tuple(v.code for v in b.gold) for b in bills}
    backend = LlamaBackend(info, n_ctx=512, threads=settings.threads)
    try:
        task = CodingTask(cap_codebook(), multi_label=False)
        return build_examples(
            LlamaCodingTokens(backend), task, list(texts), texts, labelled, settings.max_tokens
        )
    finally:
        backend.close()


def _collate(torch, batch):
    """Right padding, masked by position: the same tensors the trainer builds."""
    from core.types.finetune import IGNORE_INDEX

    width = max(len(e.input_ids) for e in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
        attention[row, : len(e.input_ids)] = 1
    return ids, attention, labels


def _warm_up(torch, model, batch) -> None:
    """Forward and backward without an update; the gradients are dropped again."""
    ids, attention, labels = _collate(torch, batch)
    model(input_ids=ids, attention_mask=attention, labels=labels).loss.backward()
    model.zero_grad(set_to_none=True)


class PlainLoop:
    """transformers + peft as their documentation shows them, nothing of ours."""

    def __init__(self, info, settings):
        import peft
        import torch
        import transformers

        self.torch = torch
        torch.set_num_threads(settings.threads)
        torch.set_flush_denormal(True)
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF reader's progress bar
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(info.path.parent), gguf_file=info.path.name, dtype=torch.float32
            )
        torch.manual_seed(settings.seed)  # as the trainer seeds the adapter's start
        config = peft.LoraConfig(
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        self.model = peft.get_peft_model(model, config)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate)
        self.model.train()

    def step(self, batch) -> tuple[float, int]:
        ids, attention, labels = _collate(self.torch, batch)
        loss = self.model(
            input_ids=ids, attention_mask=attention, labels=labels, use_cache=False
        ).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.item()), int(attention.sum())


def _other_cpu_seconds() -> float:
    """CPU seconds used so far by every process but this one (from /proc/stat and ours)."""
    import psutil

    busy = psutil.cpu_times()
    total = busy.user + busy.nice + busy.system + busy.irq + busy.softirq
    mine = psutil.Process().cpu_times()
    return total - (mine.user + mine.system)


def compare_training(
    info, seed: int, blocks: int = 2, steps: int = 4, batch: int = 4, threads: int = 2
) -> None:
    """Print tokens/s of our trainer and of the plain loop, their ratio, and how closely
    their per-step losses agree."""
    from core.engine.lora_trainer import LoraTrainer, batch_of, load_base_model, total_steps
    from core.types.finetune import LoraSettings

    settings = LoraSettings(
        batch_size=batch, seed=seed, threads=threads, checkpoint_every=10**6, validation_share=0
    )
    timed = blocks * steps
    # One batch more than timed, so the schedule's last step (which checkpoints) never runs.
    train = _examples(info, (timed + 1) * batch, seed, settings)
    assert total_steps(len(train), settings) > timed
    batches = [
        [train[i] for i in batch_of(s, len(train), settings)[1]] for s in range(1, timed + 1)
    ]

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as checkpoints:
        ours = LoraTrainer(load_base_model(info.path, threads), settings, Path(checkpoints))
        ours.prepare()
        torch = ours.torch
        sides = {"ours": Side("ours", rng=torch.get_rng_state())}
        plain = PlainLoop(info, settings)
        sides["plain"] = Side("plain", rng=torch.get_rng_state())
        load_seconds = time.perf_counter() - started
        for model in (ours.model, plain.model):
            _warm_up(torch, model, batches[0])

        def run_ours(block: int, side: Side) -> None:
            last = (block + 1) * steps

            def check_stop() -> None:
                if ours.done >= last:
                    raise _BlockDone

            def on_step(s) -> None:
                side.losses.append(s.loss)
                side.tokens += s.tokens
                side.timed_inside += s.seconds

            with contextlib.suppress(_BlockDone):
                ours.train(train, [], on_step, lambda v: None, check_stop)

        def run_plain(block: int, side: Side) -> None:
            for s in range(block * steps, (block + 1) * steps):
                loss, tokens = plain.step(batches[s])
                side.losses.append(loss)
                side.tokens += tokens

        runners = {"ours": run_ours, "plain": run_plain}
        other_before = _other_cpu_seconds()
        wall_before = time.perf_counter()
        for block in range(blocks):
            order = ["ours", "plain"] if block % 2 == 0 else ["plain", "ours"]
            for name in order:
                side = sides[name]
                torch.set_rng_state(side.rng)
                began, tokens = time.perf_counter(), side.tokens
                runners[name](block, side)
                seconds = time.perf_counter() - began
                side.seconds += seconds
                side.blocks.append((side.tokens - tokens) / seconds)
                side.rng = torch.get_rng_state()
        wall = time.perf_counter() - wall_before
        other = _other_cpu_seconds() - other_before

    a, b = sides["ours"], sides["plain"]
    print(
        f"\n{info.name}: LoRA training, {blocks} alternating blocks x {steps} steps of batch "
        f"{batch} per side, {threads} threads (both models loaded in {load_seconds:.0f} s)"
    )
    for side in (a, b):
        print(
            f"  {side.name:>5}: {side.tokens / side.seconds:6.1f} tokens/s "
            f"({side.tokens} tokens in {len(side.losses)} steps, {side.seconds:.2f} s; "
            f"by block {', '.join(f'{x:.1f}' for x in side.blocks)})"
        )
    print(
        f"  ours' own step timer (forward, backward, update) recorded {a.timed_inside:.2f} s "
        f"of its {a.seconds:.2f} s: {a.seconds - a.timed_inside:.2f} s of bookkeeping"
    )
    ratio = (a.tokens / a.seconds) / (b.tokens / b.seconds)
    verdict = "meets" if ratio >= LORA_TARGET else "below"
    print(f"  ours / plain: {ratio:.2f}x ({verdict} the {LORA_TARGET}x target)")
    diffs = [abs(x - y) for x, y in zip(a.losses, b.losses, strict=True)]
    print(
        f"  loss at step 1: ours {a.losses[0]:.6f}, plain {b.losses[0]:.6f} "
        f"(|diff| {diffs[0]:.1e}); max |diff| over {len(diffs)} steps {max(diffs):.1e}"
    )
    print(
        f"  other processes used {other:.0f} CPU-s in the {wall:.0f} s timed "
        f"({other / wall:.2f} of {os.cpu_count()} cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="SmolLM2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="per block and side")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from core.config import Settings
    from core.engine.registry import discover, resolve

    cfg = Settings()
    info = resolve(args.model, discover(cfg.models_dir, cfg.cache_dir))
    compare_training(info, args.seed, args.blocks, args.steps, args.batch, args.threads)


if __name__ == "__main__":
    main()
