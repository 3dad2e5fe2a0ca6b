"""`perfics`: the dashboard's features, headless. Same use cases as the pages, JSON on request."""

from __future__ import annotations

import argparse
import os
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
from core.app.cli.common import EXIT_ERROR, EXIT_USAGE, read_only_note
from core.app.cli.inputs import OneLineParser, text_argument_problem, unexpected
from core.errors import ModelNotFound, PerficsError
from core.evaluation.lifecycle import RunStopped


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="perfics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    groups = (models, endpoints, refine, bench, rank, score, quantize, classify, learn, loadtest)
    for group in groups:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)  # a usage error: one line, exit status 2
        not_text = text_argument_problem(parser, args)
        if not_text:
            print(not_text, file=sys.stderr)
            return EXIT_USAGE
        with read_only_note() as notes:
            status = args.func(args)
        for note in notes:
            print(note, file=sys.stderr)
        return status
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
    except BrokenPipeError:
        # The reader went away (`perfics ... | head`): nothing left to say, and nowhere to.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # a bug: one line here, the traceback in the log
        print(unexpected(exc, argv), file=sys.stderr)
        return EXIT_ERROR
