"""A model's resident memory, measured in a process of its own.

LlamaBackend measures the memory a model adds when it loads (weights paged in by one token's
evaluation, plus its KV cache and compute buffers). Inside a process that has loaded and
closed other models, or read the same file before, that growth is distorted: freed memory is
reused, and pages already cached need no new ones. Comparing the models of a ladder needs the
same starting point for each, so each one is loaded in a fresh `python -m
core.engine.footprint PATH N_CTX THREADS`, which prints the figure.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from core.errors import UnusableModel


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark in MB (ru_maxrss is in KiB on Linux),
    as every generation and training run records it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_footprint(path: Path, n_ctx: int, threads: int, timeout_s: float = 300) -> float:
    """MiB the model adds when loaded with this context, from a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "core.engine.footprint", str(path), str(n_ctx), str(threads)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise UnusableModel(str(path), lines[-1] if lines else f"exit {done.returncode}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    from core.engine.llama import LlamaBackend
    from core.types import ModelInfo

    path, n_ctx, threads = Path(argv[0]), int(argv[1]), int(argv[2])
    info = ModelInfo(name=path.stem, path=path, file_size=path.stat().st_size, usable=True)
    backend = LlamaBackend(info, n_ctx=n_ctx, threads=threads)
    print(f"{backend.memory_mb:.3f}")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
