"""What the benchmark scripts that compare us with llama.cpp's own tools share: the text they
measure on, the path of the built `llama-perplexity`, and one way of running it."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets" / "us-congress-cap" / "USCongress.csv.gz"


def default_text(titles: int = 170) -> str:
    """The first bill titles of the shared US Congress set, one per line."""
    rows = csv.reader(io.TextIOWrapper(gzip.open(SHARED), encoding="utf-8"), delimiter=";")
    next(rows)
    return "\n".join(r[-1] for _, r in zip(range(titles), rows, strict=False))


def llama_perplexity_tool() -> str:
    """The path of llama-perplexity, built from the vendored source the first time (a few
    minutes) by scripts/build_llama_tools.sh."""
    return subprocess.run(
        [str(ROOT / "scripts" / "build_llama_tools.sh")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()


def run_llama_perplexity(
    tool: str, model: Path, text: Path, ctx: int, threads: int, *extra: str
) -> tuple[str, float]:
    """(its log, wall seconds) for one run with -c and -b both ctx and flash attention off,
    as llama-cpp-python runs (with it on, llama.cpp's figure moves by about 0.2 %). The log is
    stderr, where it time-stamps its progress, then stdout."""
    command = [tool, "-m", str(model), "-f", str(text), "-c", str(ctx), "-b", str(ctx)]
    command += ["-t", str(threads), "-fa", "off", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stderr + done.stdout, time.perf_counter() - started
