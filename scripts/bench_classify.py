"""Coding speed: texts coded per second through the classification workbench against raw
llama-cpp-python making the same grammar-forced call, side by side in one run.

Workbench: a real coding run, zero-shot and single-label, of a seeded sample of bill titles
from the shared US Congress set with the CAP major-topic codebook: the dataset and codebook
saved to a temporary store, then create_coding_run + run_coding with the backend pool the
worker uses, so the run's bookkeeping and its store writes are timed too (wall clock from
creating the run to its end). Raw: a Llama loaded as core/engine/llama.py loads it (same
n_ctx, threads, seed) answers each text with create_chat_completion on the same messages
(coding.messages) under the same grammar (coding.grammar), temperature 0. Gemma 3 270M is a
base model without a chat template, for which create_chat_completion would format the
conversation its own way (llama-2); there the raw side calls create_completion on the
transcript our backend gives a model without a template, so both see the same prompt.
max_tokens is the workbench's own for single-label answers (coding.settings).

The texts are split into blocks; each block is one coding run on one side and the same texts
on the other, and which side goes first alternates from block to block, so drift on the
machine hits both; the CPU-seconds other processes used while each side ran are printed, so
a disturbed figure shows as such. Each side is warmed up once (on a text outside the sample)
before timing.
Prints texts/s of each side, the ratio workbench / raw (target >= 0.95x) and n, the share of
texts where both chose the same label, how many raw answers were spelled in other tokens
than the label's own, and each side's accuracy against the human (gold) codes.
A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATIO_TARGET = 0.95


def _workbench_run(store, pool, dataset: str, info, seed: int) -> tuple[dict, float]:
    """(text id -> label code, wall seconds) of one coding run of `dataset` by one model."""
    from core.engine.llama import llama_cpp_version
    from core.evaluation.coding_run import create_coding_run, run_coding
    from core.types.classification import CodingSpec

    spec = CodingSpec(dataset=dataset, codebook="cap", models=(info,), seed=seed)
    started = time.perf_counter()
    run_id = create_coding_run(store, spec, llama_cpp_version())
    run_coding(store, run_id, pool)
    seconds = time.perf_counter() - started
    proposed = store.codings.proposals(dataset, "cap", [run_id])
    return dict(zip(proposed.text_id, proposed.label, strict=True)), seconds


class RawCoder:
    """llama-cpp-python on its own, asked the workbench's question under its grammar."""

    def __init__(self, info, cfg, task, seed: int):
        from llama_cpp import Llama, LlamaGrammar

        from core.evaluation import coding

        self.task, self.seed = task, seed
        self.llm = Llama(
            model_path=str(info.path),
            n_ctx=min(cfg.n_ctx, info.context_length or cfg.n_ctx),
            n_threads=cfg.threads,
            n_threads_batch=cfg.threads,
            seed=42,
            verbose=False,
        )
        self.templated = bool(self.llm.metadata.get("tokenizer.chat_template"))
        self.grammar = LlamaGrammar.from_string(coding.grammar(task), verbose=False)
        self.max_tokens = coding.settings(task).max_tokens

    def code(self, text: str) -> tuple[str, int]:
        """(the answer, tokens it took)."""
        from core.engine.prompts import fallback_chat_prompt
        from core.evaluation import coding

        conversation = coding.messages(self.task, text)
        common = dict(
            grammar=self.grammar, temperature=0.0, seed=self.seed, max_tokens=self.max_tokens
        )
        if self.templated:
            out = self.llm.create_chat_completion(messages=conversation, **common)
            answer = out["choices"][0]["message"]["content"]
        else:
            out = self.llm.create_completion(prompt=fallback_chat_prompt(conversation), **common)
            answer = out["choices"][0]["text"]
        return answer, out["usage"]["completion_tokens"]

    def own_tokens(self, label: str) -> int:
        return len(self.llm.tokenize(label.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        self.llm.close()


def compare(store, pool, cfg, name: str, blocks: list, warm_up, seed: int) -> None:
    from core.evaluation.coding import CodingTask
    from scripts.bench_scoring import cpu_seconds

    info = pool.info(name)
    codebook = store.codebooks.get("cap")
    task = CodingTask(codebook, seed=seed)
    code_of = {label.name: label.code for label in codebook.labels}
    raw = RawCoder(info, cfg, task, seed)
    try:
        _workbench_run(store, pool, "warm-up", info, seed)  # loads the model into the pool
        raw.code(warm_up.text)
        ours, theirs, spelled = {}, {}, {}
        seconds = {"workbench": 0.0, "raw": 0.0}
        others = {"workbench": 0.0, "raw": 0.0}  # CPU-seconds other processes used meanwhile
        ratios = []
        for number, block in enumerate(blocks):
            block_seconds = {}
            for side in ("workbench", "raw") if number % 2 == 0 else ("raw", "workbench"):
                busy, mine = cpu_seconds()
                if side == "workbench":
                    labels, took = _workbench_run(store, pool, f"block-{number}", info, seed)
                    ours.update(labels)
                else:
                    started = time.perf_counter()
                    for text in block:
                        answer, tokens = raw.code(text.text)
                        theirs[text.id], spelled[text.id] = answer, tokens
                    took = time.perf_counter() - started
                block_seconds[side] = took
                busy_after, mine_after = cpu_seconds()
                others[side] += max(0.0, (busy_after - busy) - (mine_after - mine))
                seconds[side] += took
            ratios.append(block_seconds["raw"] / block_seconds["workbench"])
        texts = [t for block in blocks for t in block]
        n = len(texts)
        raw_codes = {tid: code_of.get(answer) for tid, answer in theirs.items()}
        same = sum(ours.get(t.id) == raw_codes[t.id] for t in texts)
        unparsed = sum(code is None for code in raw_codes.values())
        respelled = sum(
            raw_codes[t.id] is not None and spelled[t.id] > raw.own_tokens(theirs[t.id])
            for t in texts
        )
        respelled_same = sum(
            ours.get(t.id) == raw_codes[t.id] and spelled[t.id] > raw.own_tokens(theirs[t.id])
            for t in texts
        )
        gold = {t.id: t.gold[0].code for t in texts}
        our_correct = sum(ours.get(tid) == code for tid, code in gold.items())
        their_correct = sum(raw_codes[tid] == code for tid, code in gold.items())
    finally:
        raw.close()
    ours_tps, raw_tps = n / seconds["workbench"], n / seconds["raw"]
    ratio = ours_tps / raw_tps
    print(f"{info.name} ({'chat template' if raw.templated else 'no chat template'}):")
    print(
        f"  speed: workbench {ours_tps:.2f} texts/s ({seconds['workbench']:.1f} s), raw "
        f"llama-cpp-python {raw_tps:.2f} texts/s ({seconds['raw']:.1f} s), n = {n} texts in "
        f"{len(blocks)} alternating blocks; ratio {ratio:.2f}x (blocks {min(ratios):.2f}-"
        f"{max(ratios):.2f}x), target >= {RATIO_TARGET}x "
        f"{'met' if ratio >= RATIO_TARGET else 'NOT met'}; other processes used "
        f"{others['workbench']:.0f} and {others['raw']:.0f} CPU-s during the two sides"
    )
    print(
        f"  same label on both sides: {same}/{n} ({same / n:.0%}); raw answers that are not a "
        f"label (cut off at {raw.max_tokens} tokens): {unparsed}; raw answers spelled in more "
        f"tokens than the label's own: {respelled}/{n} ({respelled_same} of them still agree)"
    )
    print(
        f"  accuracy against the gold codes: workbench {our_correct}/{n} "
        f"({our_correct / n:.1%}), raw {their_correct}/{n} ({their_correct / n:.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="SmolLM2,gemma")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-classify-") as folder:
        os.environ["PERFICS_DB"] = str(Path(folder) / "bench.duckdb")
        os.environ["PERFICS_CACHE_DIR"] = str(Path(folder) / "cache")
        os.environ["PERFICS_THREADS"] = str(args.threads)
        os.environ.setdefault("PERFICS_MODELS_DIR", str(ROOT / "models"))
        os.environ.pop("PERFICS_BACKEND", None)

        from core.app import context
        from tests.support import cap_codebook, congress_bills

        cfg = context.settings()
        store = context.store(cfg)
        store.codebooks.save(cap_codebook("cap"), "tests/data/cap_major_topics.csv")
        sample = congress_bills(args.texts, args.seed)
        chosen = {t.id for t in sample}
        warm_up = next(t for t in congress_bills() if t.id not in chosen)
        store.datasets.save("warm-up", "US Congress", [warm_up])
        size = -(-len(sample) // args.blocks)
        blocks = [sample[i : i + size] for i in range(0, len(sample), size)]
        for number, block in enumerate(blocks):
            store.datasets.save(f"block-{number}", "US Congress", block)
        print(
            f"{os.cpu_count()} CPUs, {cfg.threads} threads, n_ctx {cfg.n_ctx}, load average at "
            f"start {os.getloadavg()[0]:.2f}; {len(sample)} bill titles (seed {args.seed}), "
            "CAP major topics (20 labels), zero-shot, single-label"
        )
        pool = context.backend_pool(cfg)
        try:
            for name in args.models.split(","):
                compare(store, pool, cfg, name, blocks, warm_up, args.seed)
                backend = pool.loaded.pop(pool.info(name).name, None)
                if backend is not None:
                    backend.close()
        finally:
            for backend in pool.loaded.values():
                backend.close()


if __name__ == "__main__":
    main()
