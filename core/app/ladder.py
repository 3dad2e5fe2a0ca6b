"""Use cases for quantization ladders: plan one, list them, and read a ladder's table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.app import context, runs, worker
from core.app.quantization import source_model
from core.app.scoring import read_text
from core.engine.llama import llama_cpp_version
from core.engine.quantize import DEFAULT_LADDER, is_quantized, parse_types, quantization_types
from core.engine.registry import count_tokens
from core.errors import InvalidRequest
from core.evaluation.ladder import SOURCE, create_ladder
from core.evaluation.suites import ensure_builtin_suite
from core.types import RunKind
from core.types.token_level import LadderConfig, LadderRung

MIN_CTX = 16


def suite_text(suite: str) -> str:
    """A suite as running text: each question followed by its reference answer, if any."""
    store = context.store()
    ensure_builtin_suite(store)
    questions = store.suites.questions(suite)
    if not questions:
        raise InvalidRequest(f"No suite named {suite!r} (or it has no questions).")
    parts = []
    for q in questions:
        parts.append(q.text)
        parts.extend(q.turns[1:] if q.turns else ())
        if q.reference and q.reference_kind in (None, "answer", "contains", "exact"):
            parts.append(q.reference)
    return "\n\n".join(parts)


def ladder_text(file: str | Path | None, suite: str | None) -> tuple[str, str]:
    """(text, where it came from) for --file or --suite."""
    if file and suite:
        raise InvalidRequest("Give a text file or a suite, not both.")
    if file:
        return read_text(Path(file)), Path(file).name
    if suite:
        return suite_text(suite), f"suite {suite}"
    raise InvalidRequest("Give a text to measure on: a UTF-8 file or a suite.")


def fitting_ctx(n_tokens: int, wanted: int) -> int:
    """The chunk size to use: `wanted`, halved until the text holds two chunks (as perplexity
    needs), never below MIN_CTX."""
    ctx = wanted
    while ctx > MIN_CTX and n_tokens < 2 * ctx:
        ctx //= 2
    if n_tokens < 2 * ctx:
        raise InvalidRequest(
            f"The text is {n_tokens} tokens; a ladder needs at least {2 * MIN_CTX}. "
            "Give a longer text."
        )
    return ctx


def plan(
    model: str,
    types: str | tuple[str, ...] = DEFAULT_LADDER,
    text: str = "",
    text_label: str = "",
    n_ctx: int = 512,
    allow_requantize: bool = False,
    quality_suite: str | None = None,
) -> tuple[str, int]:
    """Creates the ladder run (not started); returns its id and the chunk size it will use,
    which is smaller than n_ctx when the text is short."""
    if n_ctx < MIN_CTX:  # else every rung fails and the ladder "completes" with no row
        raise InvalidRequest(f"--ctx must be at least {MIN_CTX} tokens, got {n_ctx}.")
    wanted = parse_types(types) if isinstance(types, str) else parse_types(",".join(types))
    info = source_model(model)
    if not text.strip():
        raise InvalidRequest("The text to measure on is empty.")
    cfg = context.settings()
    if cfg.backend == "fake":
        n_tokens = len(context.load_backend(info.name).tokenize(text))
    else:  # the vocabulary alone: no weights stay resident to skew the ladder's memory figures
        n_tokens = count_tokens(info.path, text)
    ctx = fitting_ctx(n_tokens, min(n_ctx, cfg.n_ctx))
    config = LadderConfig(
        source=info.name,
        source_sha256=info.sha256 or "",
        types=wanted,
        allow_requantize=allow_requantize,
        text=text,
        text_label=text_label,
        n_ctx=ctx,
        quality_suite=quality_suite,
        llama_cpp_version=llama_cpp_version() if cfg.backend != "fake" else "",
    )
    return create_ladder(context.store(), info, config), ctx


def start(run_id: str) -> int:
    """Hand a planned ladder to a background worker; returns its process id."""
    return worker.launch(run_id)


def overview() -> pd.DataFrame:
    """Ladder runs, newest first, with status, progress and time left."""
    return runs.overview(kinds=(RunKind.LADDER,))


def rungs(run_id: str) -> list[LadderRung]:
    return context.store().ladders.rungs(run_id)


def config(run_id: str) -> LadderConfig:
    record = context.store().runs.get(run_id)
    if record.kind != RunKind.LADDER:
        raise InvalidRequest(f"Run {run_id} is not a quantization ladder.")
    return record.config


def table(rows: list[LadderRung]) -> pd.DataFrame:
    """One row per model, in the ladder's order, with units in the column names."""
    records = []
    for r in rows:
        records.append(
            {
                "Type": "source" if r.qtype == SOURCE else r.qtype,
                "Model": r.model_name,
                "File (MiB)": r.file_bytes / 2**20,
                "Memory (MiB)": r.memory_mb,
                "Prompt (tokens/s)": r.prompt_tokens_per_s,
                "Generation (tokens/s)": r.gen_tokens_per_s,
                "Perplexity": r.perplexity,
                "Perplexity ±": r.perplexity_uncertainty,
                "PPL ratio": r.ppl_ratio,
                "Mean KLD (nats)": r.mean_kld,
                "KLD ±": r.mean_kld_uncertainty,
                "KLD 99th pct": r.kld_p99,
                "Same top token (%)": None if r.same_top is None else 100 * r.same_top,
                "RMS Δp (%)": None if r.rms_delta_p is None else 100 * r.rms_delta_p,
                "Quality": r.quality,
                "Quality low": r.quality_low,
                "Quality high": r.quality_high,
                "Quality n": r.quality_n,
                "Tensor types": ", ".join(f"{t} ×{n}" for t, n in r.tensor_types),
                "n positions": r.positions,
            }
        )
    df = pd.DataFrame.from_records(records)
    # The source has no KLD: a column of floats with NaN there, not an object column of None.
    numeric = [
        c
        for c in df.columns
        if c not in ("Type", "Model", "Tensor types", "n positions", "Quality n")
    ]
    return df.astype({c: float for c in numeric})


def suite_names() -> list[str]:
    store = context.store()
    ensure_builtin_suite(store)
    return store.suites.names()


def uploaded_text(data: bytes, name: str) -> tuple[str, str]:
    """An uploaded file's text, with a clear error when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{name} is not UTF-8 text (byte {exc.start}).") from None


def source_is_quantized(name: str) -> bool:
    try:
        return is_quantized(source_model(name).path)
    except (OSError, ValueError):
        return False


def type_names() -> list[str]:
    """Every type llama.cpp's quantizer writes, by name."""
    return sorted(quantization_types())
