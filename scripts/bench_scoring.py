"""Scoring speed and memory, from one run.

Speed: our corpus perplexity (core/engine/llama_measure.py) against llama.cpp's own
`llama-perplexity` on the same model, text, -c, -b and -t, for both default models. Both
sides are timed from tokenising the text to the final figure, without loading the model
(llama-perplexity's own timestamps give its share). The two alternate, --repeats times each,
and the best time of each side is compared: other processes on the machine only ever slow a
run down. How many CPU-seconds they used during each best run is printed beside it (Linux
/proc/stat), so a disturbed figure shows as such. Target: ours at least 0.9x theirs.

Memory: peak resident memory while scoring with Gemma 3, each measurement in a fresh process
so peaks do not mix: score_text of a 4,096- and a 1,024-token continuation (one context size,
so the model's footprint is the same), and corpus perplexity over 4,096 and 1,024 tokens. The
peak is reset (/proc/self/clear_refs) after the model is loaded and the text prepared, so it is
the scoring's own high-water mark. Target: peak below the process before loading plus the
model's resident footprint (LlamaBackend.memory_mb) plus 300 MiB, whatever the text's length.

llama-perplexity is built by scripts/build_llama_tools.sh (a few minutes the first time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.engine.llama import LlamaBackend  # noqa: E402
from core.engine.registry import discover, resolve  # noqa: E402
from scripts.llama_tools import (  # noqa: E402
    default_text,
    llama_perplexity_tool,
    run_llama_perplexity,
)

SPEED_TARGET = 0.9
MEMORY_TARGET_MB = 300
MEMORY_MODEL = "gemma"
MEMORY_LENGTHS = (4096, 1024)
CONTEXT = "Titles of bills introduced in the US Congress:\n"
# llama-perplexity's log lines start with minutes.seconds.milliseconds.microseconds and a
# level letter. A line may carry two of them (its progress line is not always ended).
STAMP = re.compile(r"(\d+)\.(\d{2})\.(\d{3})\.(\d{3}) [A-Z] ")


def stamp_seconds(log: str, marker: str) -> float:
    """The time stamp of the log entry that contains `marker`."""
    at = log.find(marker)
    stamps = list(STAMP.finditer(log, 0, at)) if at >= 0 else []
    if not stamps:
        raise RuntimeError(f"llama-perplexity printed no time-stamped {marker!r}")
    minutes, seconds, millis, micros = (int(g) for g in stamps[-1].groups())
    return minutes * 60 + seconds + millis / 1e3 + micros / 1e6


def theirs(tool: str, model: Path, text: Path, ctx: int, threads: int) -> dict:
    """llama-perplexity's figure and its time from tokenising to the final estimate."""
    log, _ = run_llama_perplexity(tool, model, text, ctx, threads)
    final = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", log)
    n_chunks = re.search(r"calculating perplexity over (\d+) chunks", log)
    seconds = stamp_seconds(log, "Final estimate") - stamp_seconds(log, "tokenizing the input")
    return {
        "perplexity": float(final.group(1)),
        "uncertainty": float(final.group(2)),
        "chunks": int(n_chunks.group(1)),
        "seconds": seconds,
    }


def cpu_seconds() -> tuple[float, float]:
    """(busy seconds of all CPUs since boot, this process's and its children's CPU seconds)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # idle and iowait
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def timed(run):
    """run()'s result and the CPU seconds other processes used meanwhile: a run that shared
    the cores with them is slower for it, so the figure says how clean each timing was."""
    busy, mine = cpu_seconds()
    result = run()
    busy_after, mine_after = cpu_seconds()
    return result, max(0.0, (busy_after - busy) - (mine_after - mine))


def compare_speed(tool: str, info, text: str, ctx: int, threads: int, repeats: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as tmp:
        tmp.write(text)
        tmp.flush()
        backend = LlamaBackend(info, n_ctx=max(ctx, 512), threads=threads)
        their_runs, our_runs = [], []
        try:
            for _ in range(repeats):
                their_runs.append(
                    timed(lambda: theirs(tool, info.path, Path(tmp.name), ctx, threads))
                )
                our_runs.append(timed(lambda: backend.corpus_perplexity(text, ctx)))
        finally:
            backend.close()
    ours, our_others = min(our_runs, key=lambda r: r[0].seconds)
    them, their_others = min(their_runs, key=lambda r: r[0]["seconds"])
    evaluated = ours.chunks * ctx  # every chunk is decoded whole, on both sides
    our_tps = evaluated / ours.seconds
    their_tps = them["chunks"] * ctx / them["seconds"]
    ratio = our_tps / their_tps
    our_times = ", ".join(f"{r.seconds:.1f}" for r, _ in our_runs)
    their_times = ", ".join(f"{r['seconds']:.1f}" for r, _ in their_runs)
    print(
        f"{info.name}: perplexity ours {ours.perplexity:.4f} +/- {ours.uncertainty:.5f}, "
        f"llama-perplexity {them['perplexity']:.4f} +/- {them['uncertainty']:.5f}, ratio "
        f"{ours.perplexity / them['perplexity']:.6f} (n = {ours.chunks} chunks of {ctx}, "
        f"{ours.tokens_scored} tokens scored; theirs {them['chunks']} chunks)"
    )
    print(
        f"  speed: ours {our_tps:.1f} tokens/s, llama-perplexity {their_tps:.1f} tokens/s "
        f"(n = {evaluated} tokens evaluated per run, best of {repeats} runs each: ours "
        f"{our_times} s, theirs {their_times} s; other processes used {our_others:.1f} and "
        f"{their_others:.1f} CPU-s during the two best); ratio {ratio:.2f}x, "
        f"target >= {SPEED_TARGET}x {'met' if ratio >= SPEED_TARGET else 'NOT met'}"
    )


def reset_peak() -> bool:
    """Sets the process's peak resident memory (VmHWM) back to its current size (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(mode: str, n_tokens: int, threads: int) -> None:
    """Runs in its own process: loads Gemma, scores n_tokens, prints one JSON line."""
    info = resolve(MEMORY_MODEL, discover(ROOT / "models"))
    before_load = psutil.Process().memory_info().rss / 2**20
    n_ctx = max(MEMORY_LENGTHS) + 512 if mode == "score_text" else 512
    backend = LlamaBackend(info, n_ctx=n_ctx, threads=threads)
    llm = backend.llm
    source = default_text(titles=800)
    tokens = llm.tokenize(source.encode("utf-8"), add_bos=False, special=False)
    text = llm.detokenize(tokens[:n_tokens]).decode("utf-8", errors="ignore")
    loaded = psutil.Process().memory_info().rss / 2**20
    if not reset_peak():
        raise SystemExit("cannot reset the peak resident memory (/proc/self/clear_refs)")
    if mode == "score_text":
        result = backend.score_text(CONTEXT, text, top_k=5)
        scored, seconds = result.n_tokens, result.seconds
        evaluated = result.context_tokens + result.n_tokens
    else:
        result = backend.corpus_perplexity(text, 512)
        scored, seconds = result.tokens_scored, result.seconds
        evaluated = result.chunks * 512
    print(
        json.dumps(
            {
                "mode": mode,
                "n_ctx": backend.n_ctx,
                "evaluated": evaluated,
                "scored": scored,
                "seconds": seconds,
                "before_load_mb": before_load,
                "loaded_mb": loaded,
                "model_mb": backend.memory_mb,
                "peak_mb": peak_mb(),
            }
        )
    )
    backend.close()


def measure_memory(threads: int) -> None:
    print(f"\nPeak memory while scoring with {MEMORY_MODEL} (a fresh process each):")
    for mode in ("score_text", "corpus_perplexity"):
        for n in MEMORY_LENGTHS:
            child = [sys.executable, __file__, "--memory-child", mode, str(n)]
            out = subprocess.run(
                [*child, "--threads", str(threads)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
            m = json.loads(out.strip().splitlines()[-1])
            above = m["peak_mb"] - m["before_load_mb"]
            limit = m["model_mb"] + MEMORY_TARGET_MB
            print(
                f"  {mode}, {m['evaluated']} tokens evaluated ({m['scored']} scored, n_ctx "
                f"{m['n_ctx']}, {m['seconds']:.1f} s): peak {m['peak_mb']:.0f} MiB = "
                f"{above:.0f} MiB above the process before loading; model "
                f"{m['model_mb']:.0f} MiB, so scoring added {above - m['model_mb']:.0f} MiB "
                f"(peak minus RSS once loaded: {m['peak_mb'] - m['loaded_mb']:.0f} MiB); "
                f"target below model + {MEMORY_TARGET_MB} MiB = {limit:.0f} MiB "
                f"{'met' if above < limit else 'NOT met'}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="SmolLM2,gemma")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", nargs=2, metavar=("MODE", "TOKENS"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), args.threads)
        return
    print(
        f"{os.cpu_count()} CPUs, {args.threads} threads, load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )
    if not args.skip_speed:
        tool = llama_perplexity_tool()
        text = default_text()
        models = discover(ROOT / "models")
        print(f"Speed: text {len(text):,} characters, -c {args.ctx} -b {args.ctx}")
        for name in args.models.split(","):
            compare_speed(tool, resolve(name, models), text, args.ctx, args.threads, args.repeats)
    if not args.skip_memory:
        measure_memory(args.threads)


if __name__ == "__main__":
    main()
