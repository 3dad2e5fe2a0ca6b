"""Learning speed, side by side in one run: texts embedded per second by the embedding probe's
embedder against raw llama-cpp-python `embed`, and LoRA training tokens per second through our
fine-tuning job's trainer against a plain transformers + peft loop on the same examples.

Embeddings: a seeded sample of bill titles from the shared US Congress set, split into
blocks; within a block each side embeds the same texts and which side goes first alternates
from block to block, so drift on the machine hits all sides. Three sides:
- ours: core.engine.embedding.LlamaEmbedder (one decode per text, so a text's vector never
  depends on which texts share its batch);
- raw, one by one: `Llama(embedding=True, pooling_type=MEAN).embed(text, normalize=True)` per
  text, the same work as ours done directly (target >= 0.95x);
- raw, batched: the same `Llama.embed(texts)` given the whole block, which packs several texts
  into one decode; faster, but a text's vector then changes with its neighbours (printed).

LoRA: see train_side() below; run with --skip-lora to time embeddings only.
A script, not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # torch spins otherwise (see docs)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EMBED_TARGET = 0.95
LORA_TARGET = 0.90


def bill_titles(n: int, seed: int) -> list[str]:
    import gzip
    import random

    import pandas as pd

    from tests.support import CONGRESS

    with gzip.open(CONGRESS, "rt", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, sep=";", dtype=str)
    titles = [t for t in frame["text"].dropna().tolist() if t.strip()]
    return random.Random(seed).sample(titles, n)


class RawEmbedder:
    """llama-cpp-python on its own, as its documentation shows it."""

    def __init__(self, path: Path, threads: int):
        import llama_cpp

        with contextlib.redirect_stderr(io.StringIO()):
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )

    def one_by_one(self, texts: list[str]):
        import numpy as np

        return np.array([self.llm.embed(t, normalize=True) for t in texts], dtype=np.float32)

    def batched(self, texts: list[str]):
        import numpy as np

        return np.array(self.llm.embed(texts, normalize=True), dtype=np.float32)


def compare_embeddings(info, texts: list[str], blocks: int, threads: int) -> None:
    import numpy as np

    from core.engine.embedding import LlamaEmbedder

    ours = LlamaEmbedder(info, threads=threads)
    raw = RawEmbedder(info.path, threads)
    sides = {
        "ours": ours.embed,
        "raw one by one": raw.one_by_one,
        "raw batched": raw.batched,
    }
    for embed in sides.values():  # warm up on a text outside the sample
        embed(["A bill to warm up the model."])
    seconds = dict.fromkeys(sides, 0.0)
    vectors: dict[str, list] = {name: [] for name in sides}
    size = max(1, len(texts) // blocks)
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    for b, chunk in enumerate(chunks):
        order = list(sides)
        if b % 2:
            order.reverse()
        for name in order:
            started = time.perf_counter()
            rows = sides[name](chunk)
            seconds[name] += time.perf_counter() - started
            vectors[name].append(rows)
    ours.close()
    stacked = {name: np.concatenate(v) for name, v in vectors.items()}
    n = len(texts)
    print(f"\n{info.name}: embeddings, n = {n} texts in {len(chunks)} alternating blocks")
    for name in sides:
        print(f"  {name:>15}: {n / seconds[name]:6.2f} texts/s ({seconds[name]:.1f} s)")
    for name in ("raw one by one", "raw batched"):
        ratio = seconds[name] / seconds["ours"]
        verdict = "meets" if ratio >= EMBED_TARGET else "below"
        gap = float(np.abs(stacked[name] - stacked["ours"]).max())
        print(
            f"  ours / {name}: {ratio:.2f}x ({verdict} the {EMBED_TARGET}x target); "
            f"largest difference in a vector component {gap:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=120)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="SmolLM2,gemma")
    parser.add_argument("--skip-lora", action="store_true")
    parser.add_argument("--skip-embeddings", action="store_true")
    args = parser.parse_args()

    from core.config import Settings
    from core.engine.registry import discover, resolve

    cfg = Settings()
    models = discover(cfg.models_dir, cfg.cache_dir)
    texts = bill_titles(args.texts, args.seed)
    if not args.skip_embeddings:
        for name in args.models.split(","):
            compare_embeddings(resolve(name, models), texts, args.blocks, args.threads)
    if not args.skip_lora:
        from scripts.bench_lora import compare_training

        compare_training(resolve("SmolLM2", models), args.seed)


if __name__ == "__main__":
    main()
