"""`perfics`: the dashboard's features, headless. Same use cases as the pages, JSON on request."""

from __future__ import annotations

import argparse
import sys

from core.app.cli import (
    bench,
    classify,
    endpoints,
    learn,
    loadtest,
    models,
    quantize,
    rank,
    refine,
    score,
)
from core.app.cli.common import EXIT_ERROR, EXIT_USAGE
from core.errors import ModelNotFound, PerficsError
from core.evaluation.lifecycle import RunStopped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    groups = (models, endpoints, refine, bench, rank, score, quantize, classify, learn, loadtest)
    for group in groups:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PerficsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (KeyboardInterrupt, RunStopped) as exc:
        print(
            "stopped on request" if isinstance(exc, RunStopped) else "interrupted", file=sys.stderr
        )
        return 130
