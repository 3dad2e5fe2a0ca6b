"""What every `perfics` command shares: exit codes, JSON output and the sampling flags."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import EndpointError
from core.store.database import on_read_only
from core.types import SamplerSettings

EXIT_USAGE = 2
EXIT_ERROR = 1


@contextmanager
def read_only_note() -> Iterator[list[str]]:
    """While a command runs, collect one note per read-only store it opens. The caller
    prints them once the command succeeded: a command that fails says read-only in its one
    error line, and a note before it would make that two."""
    notes: list[str] = []
    noted: set[Path] = set()

    def note(path: Path, why: str) -> None:
        if path not in noted:
            noted.add(path)
            notes.append(
                f"note: {path} is read-only ({why}); showing what it holds, nothing can be changed"
            )

    on_read_only(note)
    try:
        yield notes
    finally:
        on_read_only(None)


def work_or_launch(run_id: str, args: argparse.Namespace, unit: str = "item") -> int:
    """Hand a created run to a background worker (--background) or work it here with a
    progress bar (unless --quiet); print its id, or its id and status as JSON."""
    from tqdm import tqdm

    from core.app import worker

    print(f"run {run_id}", file=sys.stderr, flush=True)
    if args.background:
        pid = worker.launch(run_id)
        print(f"working in the background (process {pid}); log: {worker.log_path(run_id)}")
        print(run_id)
        return 0
    with tqdm(desc=f"{unit}s", unit=unit, file=sys.stderr, disable=args.quiet) as bar:

        def show(done: int, total: int, eta: float | None) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            status = worker.work(run_id, show)
        except EndpointError as exc:
            # The run kept every finished unit; say how to carry on once the server is back
            # (or, for a key or model the endpoint refused, once that is fixed).
            when = "answers again" if exc.transient else "is set up (perfics endpoints check)"
            raise type(exc)(
                exc.endpoint,
                exc.url,
                f"{exc.reason}. Run {run_id} kept its finished units: resume it with "
                f"`perfics run --resume {run_id}` once the endpoint {when}",
            ) from exc
    if args.json:
        print_json({"run_id": run_id, "status": str(status)})
    else:
        print(run_id)
    return 0


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def add_sampling_args(p: argparse.ArgumentParser, max_tokens: int) -> None:
    defaults = SamplerSettings()
    p.add_argument("--max-tokens", type=int, default=max_tokens, help="per generation")
    p.add_argument("--temperature", type=float, default=defaults.temperature)
    p.add_argument("--top-p", type=float, default=defaults.top_p)
    p.add_argument("--repeat-penalty", type=float, default=defaults.repeat_penalty)
    p.add_argument("--seed", type=int, default=defaults.seed)


def sampler_settings(args: argparse.Namespace) -> SamplerSettings:
    return SamplerSettings(
        temperature=args.temperature,
        top_p=args.top_p,
        repeat_penalty=args.repeat_penalty,
        max_tokens=args.max_tokens,
        seed=args.seed,
        stop=tuple(getattr(args, "stop", None) or ()),
        grammar=getattr(args, "grammar", None),
    )
