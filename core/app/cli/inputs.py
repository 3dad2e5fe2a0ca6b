"""What `perfics` takes in, checked before any command runs: one-line usage errors, text
arguments that are valid UTF-8, texts read from files or stdin, and a last line of defence
that turns an unexpected exception into one line plus a log file."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import traceback
from pathlib import Path

from core.engine.model_folder import printable
from core.errors import InvalidRequest
from core.types.text import decode_utf8, surrogate_problem

# Arguments that name files. A POSIX file name may hold any bytes, and Python keeps those
# that are not UTF-8 as lone surrogates ("surrogateescape"), which open() turns back into the
# same bytes; so these are never refused. Every other text argument must be valid UTF-8.
PATH_ARGUMENTS = frozenset(
    {
        "path",  # suite import PATH
        "file",  # classify import/codebook FILE, perplexity/kld/ladder --file
        "references",  # suite import --references
        "schema",  # generate --schema
        "out",  # export/classify export --out
        "prompt_file",
        "context_file",
        "continuation_file",
    }
)
STDIN = "-"
# Every unexpected exception's one line starts with this, so a test (or a script) can tell a
# bug from a refused input.
UNEXPECTED = "error: unexpected "


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line on stderr (exit status 2) that points at
    the command's --help instead of printing the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parsed_actions(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The actions of the parser and of each sub-command parser the arguments went through."""
    while parser is not None:
        chosen = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(args, action.dest, None))
            else:
                yield action
        parser = chosen


def _option_name(action: argparse.Action) -> str:
    longest = max(action.option_strings, key=len, default=None)
    return longest or action.metavar or action.dest.upper()


def text_argument_problem(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The first text argument that is not valid UTF-8, as a one-line error, or None."""
    for action in _parsed_actions(parser, args):
        if action.dest in PATH_ARGUMENTS:
            continue
        value = getattr(args, action.dest, None)
        for text in value if isinstance(value, list) else [value]:
            problem = surrogate_problem(text) if isinstance(text, str) else None
            if problem:
                name = _option_name(action)
                fallback = f"{name}-file" if f"{action.dest}_file" in vars(args) else None
                remedy = f"give UTF-8 text or use {fallback}" if fallback else "give UTF-8 text"
                return f"error: {name} is not valid UTF-8: {problem}; {remedy}"
    return None


def add_text_argument(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    """--NAME TEXT or --NAME-file PATH, exactly one of them: a text longer than the system's
    argument limit (128 KiB on Linux) or not typed by hand comes from a file or stdin."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(f"--{name}", help=help)
    group.add_argument(
        f"--{name}-file",
        metavar="PATH",
        help=f"read the {name} from a UTF-8 file ('{STDIN}': standard input)",
    )


def read_text_file(path: str, option: str) -> str:
    """A UTF-8 file's text, or stdin's for '-'; a byte order mark is dropped. Refused with
    one line: a missing or unreadable file, a folder, bytes that are not UTF-8."""
    shown = "(standard input)" if path == STDIN else printable(path)
    try:
        data = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except IsADirectoryError:
        raise InvalidRequest(f"{option} {shown} is a folder, not a file") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {option} {shown}: {exc.strerror or exc}") from None
    return decode_utf8(data, f"{option} {shown}")


def text_argument(args: argparse.Namespace, name: str) -> str:
    """The text given as --NAME, or read from --NAME-file."""
    given = getattr(args, name)
    if given is not None:
        return given
    return read_text_file(getattr(args, f"{name}_file"), f"--{name}-file")


def _log_folder() -> Path:
    from core.app import context

    try:
        return context.settings().db.parent / "logs"
    except Exception:  # a bad PERFICS_* setting: the log must still be written somewhere
        return Path(tempfile.gettempdir())


def unexpected(exc: BaseException, argv: list[str]) -> str:
    """One line for an exception no command expected; its traceback goes to a log file in the
    data folder (or the temporary folder, if that cannot be written)."""
    record = (
        f"--- {dt.datetime.now().isoformat(timespec='seconds')} perfics "
        f"{' '.join(printable(a) for a in argv)}\n" + "".join(traceback.format_exception(exc))
    )
    where = "nowhere (no folder could be written)"
    for folder in (_log_folder(), Path(tempfile.gettempdir())):
        log = folder / "perfics-errors.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8", errors="backslashreplace") as out:
                out.write(record)
            where = str(log)
            break
        except OSError:
            continue
    message = " ".join(str(exc).split())[:300]
    return f"{UNEXPECTED}{type(exc).__name__}: {message}; details written to {where}"
