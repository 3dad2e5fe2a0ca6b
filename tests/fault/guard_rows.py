"""The "no traceback" guard's table: every `perfics` command with each bad input that applies
to it. Placeholders: {files} (input files, good and bad, see guard_harness.seed_template),
{out} (a folder for outputs, holding existing.csv), {store} (the store file), {run} (the
seeded benchmark run), {missing} (a path that does not exist).

BASE is each command's valid call on the seeded store; the store's states (locked, corrupt,
newer schema, read-only media) and an invalid UTF-8 value in each of its text options are
tried on it, row by row, automatically."""

from __future__ import annotations

import argparse

from core.app.cli import build_parser
from tests.fault.guard_harness import Row

BAD_UTF8 = "caf\udce9"  # the bytes b"caf\xe9" (Latin-1) as Python hands them over in argv
UNKNOWN = "no-such-thing"

BASE: dict[str, tuple[str, ...]] = {
    "models": ("models",),
    "generate": ("generate", "--model", "fake-echo", "--prompt", "hello", "--max-tokens", "8"),
    "export": ("export", "generations", "--format", "csv", "--out", "{out}/generations.csv"),
    "endpoints list": ("endpoints", "list"),
    "endpoints add": ("endpoints", "add", "other", "--url", "http://127.0.0.1:9/v1",
                      "--model", "m"),
    "endpoints remove": ("endpoints", "remove", "down"),
    "endpoints check": ("endpoints", "check"),
    "refine": ("refine", "--model", "fake-echo", "--prompt", "hello", "--rounds", "1",
               "--max-tokens", "8"),
    "suite import": ("suite", "import", "{files}/questions.csv", "--name", "fresh"),
    "suite list": ("suite", "list"),
    "run": ("run", "--suite", "builtin", "--models", "fake-echo", "--limit", "1", "--rounds",
            "0", "--max-tokens", "8", "--quiet"),
    "results": ("results", "--run", "{run}"),
    "rank": ("rank",),
    "perplexity": ("perplexity", "--model", "fake-echo", "--file", "{files}/text.txt"),
    "score": ("score", "--model", "fake-echo", "--context", "a b", "--continuation", "c d"),
    "quantize": ("quantize", "smol", "--types", "Q8_0"),
    "kld": ("kld", "--base", "smol", "--model", "smol", "--file", "{files}/text.txt"),
    "ladder": ("ladder", "smol", "--types", "Q8_0", "--file", "{files}/text.txt"),
    "classify import": ("classify", "import", "{files}/texts.csv", "--name", "fresh",
                        "--id-column", "id", "--text-column", "text"),
    "classify codebook": ("classify", "codebook", "--name", "topics"),
    "classify run": ("classify", "run", "--dataset", "bills", "--codebook", "topics",
                     "--models", "fake-echo", "--quiet"),
    "classify review-stats": ("classify", "review-stats", "--dataset", "bills", "--codebook",
                              "topics"),
    "classify agreement": ("classify", "agreement", "--dataset", "bills", "--codebook",
                           "topics"),
    "classify metrics": ("classify", "metrics", "--dataset", "bills", "--codebook", "topics",
                         "--against", "gold"),
    "classify export": ("classify", "export", "--dataset", "bills", "--codebook", "topics",
                        "--against", "gold", "--out", "{out}/verified.csv"),
    "learn probe": ("learn", "probe", "--dataset", "bills", "--codebook", "topics", "--model",
                    "fake-echo", "--source", "gold", "--quiet"),
    "learn code": ("learn", "code", "--probe", "p", "--dataset", "bills", "--quiet"),
    "learn finetune": ("learn", "finetune", "--dataset", "bills", "--codebook", "topics",
                       "--model", "smol", "--source", "gold", "--quiet"),
    "learn adapters": ("learn", "adapters"),
    "learn curve": ("learn", "curve", "--dataset", "bills", "--codebook", "topics", "--models",
                    "fake-echo", "--source", "gold", "--quiet"),
    "learn compare": ("learn", "compare", "{run}"),
    "loadtest": ("loadtest", "--list"),
}  # fmt: skip

# Commands that never open the store: the store's states do not apply to them.
NO_STORE = {
    "models", "endpoints list", "endpoints add", "endpoints remove", "endpoints check",
    "score", "perplexity", "quantize", "kld", "learn adapters",
}  # fmt: skip
# Commands whose valid call only reads the store: on read-only media they work (H1).
READS = {
    "export", "suite list", "results", "rank", "classify codebook", "classify review-stats",
    "classify agreement", "classify metrics", "classify export", "loadtest", "learn compare",
}  # fmt: skip
# Where a store state cannot be reached from BASE (it fails on the fake backend first).
STORE_BASE = {
    "ladder": ("ladder", "--run", "{run}", "--quiet"),
    "rank": ("rank", "--accept-unreliable-judge"),
}
# Writing commands whose valid call cannot get as far as writing on the fake backend.
NO_WRITE_REACHED = {"ladder"}  # a ladder measures with llama.cpp's tokenizer
STATE_WORDS = {
    "locked": "locked",
    "corrupt": "not a valid",
    "newer schema": "newer",
    "read-only media": "read-only",
}


def _r(command: str, bad: str, *argv: str, **fields) -> Row:
    return Row(command, bad, tuple(argv), **fields)


def _b(command: str, bad: str, *extra: str, **fields) -> Row:
    """BASE[command] with `extra` after it (a repeated option's last value wins)."""
    return Row(command, bad, BASE[command] + tuple(extra), **fields)


def state_rows() -> list[Row]:
    rows = []
    for command in BASE:
        if command in NO_STORE:
            continue
        argv = STORE_BASE.get(command, BASE[command])
        for state, word in STATE_WORDS.items():
            if state == "read-only media" and command in READS | NO_WRITE_REACHED:
                continue  # READS work there: test_reading_commands_work_on_read_only_media
            rows.append(Row(command, f"store: {state}", argv, store=state, contains=word))
    return rows


def input_rows() -> list[Row]:
    """Bad inputs of the commands up to the token-level measurements."""
    f = "{files}"
    return [
        # -- models and settings (any command reads the settings first)
        _b("models", "setting out of range", env=(("PERFICS_N_CTX", "1"),), contains="n_ctx"),
        _b("models", "setting not a number", env=(("PERFICS_THREADS", "many"),),
           contains="threads"),
        _b("models", "models folder is a file", env=(("PERFICS_MODELS_DIR", f"{f}/text.txt"),),
           expect="listed", contains="not a folder"),
        _b("models", "a folder named .gguf", expect="listed", contains="a folder, not a GGUF"),
        _b("models", "a symlink loop", expect="listed", contains="symbolic link loop"),
        _b("models", "a file that is not GGUF", expect="listed", contains="broken"),
        _b("models", "a model file unreadable", process="unprivileged", expect="listed",
           contains="permission"),
        _b("generate", "model not GGUF", "--model", "broken", contains="broken"),
        _b("generate", "model unreadable", "--model", "unreadable", process="unprivileged",
           contains="unreadable"),
        _b("suite list", "store path is a folder", env=(("PERFICS_DB", f"{f}/folder.csv"),)),
        _b("suite list", "store folder under a file",
           env=(("PERFICS_DB", f"{f}/text.txt/perfics.duckdb"),)),
        # -- generate
        _b("generate", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("generate", "empty prompt", "--prompt", "", contains="empty"),
        _b("generate", "blank prompt", "--prompt", "  \n ", contains="empty"),
        _b("generate", "max tokens not a number", "--max-tokens", "lots"),
        _b("generate", "max tokens negative", "--max-tokens", "-5"),
        _b("generate", "temperature NaN", "--temperature", "nan"),
        _b("generate", "temperature negative", "--temperature", "-1"),
        _b("generate", "top-p above 1", "--top-p", "1.5"),
        _b("generate", "seed not a number", "--seed", "x"),
        _b("generate", "schema file missing", "--schema", "{missing}"),
        _b("generate", "schema is a folder", "--schema", f"{f}/folder.csv"),
        _b("generate", "schema not UTF-8", "--schema", f"{f}/latin1.txt"),
        _b("generate", "schema not JSON", "--schema", f"{f}/not-json.json"),
        _b("generate", "schema unreadable", "--schema", f"{f}/unreadable.json",
           process="unprivileged"),
        _b("generate", "endpoint down", "--model", "down", contains="down"),
        # -- export
        _b("export", "out is the store", "--out", "{store}", contains="database"),
        _b("export", "out is the store's wal", "--out", "{store}.wal"),
        _b("export", "out exists, no --force", "--out", "{out}/existing.csv",
           contains="exists"),
        _b("export", "out is a folder", "--out", "{out}"),
        _r("export", "unknown table", "export", "nope", "--out", "{out}/x.csv"),
        _b("export", "unknown format", "--format", "xml"),
        # -- endpoints
        _b("endpoints list", "endpoints file not UTF-8",
           env=(("PERFICS_ENDPOINTS_FILE", f"{f}/latin1.txt"),), expect="listed",
           contains="not UTF-8"),
        _b("endpoints list", "endpoints file is a folder",
           env=(("PERFICS_ENDPOINTS_FILE", f"{f}/folder.csv"),), expect="listed",
           contains="directory"),
        _b("endpoints add", "URL not http", "--url", "ftp://127.0.0.1/v1"),
        _r("endpoints add", "name taken", "endpoints", "add", "down", "--url",
           "http://127.0.0.1:9/v1", "--model", "m", contains="down"),
        _r("endpoints add", "empty name", "endpoints", "add", "", "--url",
           "http://127.0.0.1:9/v1", "--model", "m"),
        _b("endpoints add", "concurrency 0", "--max-concurrency", "0"),
        _b("endpoints add", "concurrency not a number", "--max-concurrency", "two"),
        _b("endpoints add", "timeout negative", "--timeout", "-1"),
        _b("endpoints add", "key pasted instead of its variable", "--api-key-env",
           "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"),
        _r("endpoints remove", "unknown endpoint", "endpoints", "remove", UNKNOWN,
           contains=UNKNOWN),
        _r("endpoints check", "endpoint down", "endpoints", "check", "down", expect="report"),
        _r("endpoints check", "unknown endpoint", "endpoints", "check", UNKNOWN,
           contains=UNKNOWN),
        # -- refine
        _b("refine", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("refine", "empty prompt", "--prompt", "", contains="empty"),
        _b("refine", "rounds above 5", "--rounds", "9"),
        _b("refine", "rounds negative", "--rounds", "-1"),
        _b("refine", "rounds not a number", "--rounds", "two"),
        _b("refine", "endpoint down", "--model", "down", writes=True, contains="down"),
        # -- suites
        _r("suite import", "file missing", "suite", "import", "{missing}"),
        _r("suite import", "path is a folder", "suite", "import", f"{f}/folder.csv"),
        _r("suite import", "file not UTF-8", "suite", "import", f"{f}/latin1.csv"),
        _r("suite import", "file empty", "suite", "import", f"{f}/empty.txt"),
        _r("suite import", "unknown file type", "suite", "import", f"{f}/text.txt",
           expect="rows"),
        _r("suite import", "malformed rows", "suite", "import", f"{f}/malformed.csv",
           expect="rows"),
        _b("suite import", "name taken", "--name", "builtin", contains="exists"),
        _b("suite import", "references missing", "--references", "{missing}"),
        _r("suite import", "file unreadable", "suite", "import", f"{f}/unreadable.jsonl",
           process="unprivileged"),
        # -- run
        _b("run", "unknown suite", "--suite", UNKNOWN, contains=UNKNOWN),
        _b("run", "unknown model", "--models", UNKNOWN, contains=UNKNOWN),
        _b("run", "unknown judge", "--judge", UNKNOWN, contains=UNKNOWN),
        _b("run", "same model twice", "--models", "fake-echo,fake-echo"),
        _b("run", "limit 0", "--limit", "0"),
        _b("run", "limit not a number", "--limit", "few"),
        _b("run", "rounds above 5", "--rounds", "9"),
        _b("run", "unknown category", "--categories", UNKNOWN, contains=UNKNOWN),
        _r("run", "no models", "run", "--suite", "builtin", contains="--models"),
        _r("run", "resume unknown run", "run", "--resume", UNKNOWN, contains=UNKNOWN),
        _r("run", "stop unknown run", "run", "--stop", UNKNOWN, contains=UNKNOWN),
        _r("run", "delete unknown run", "run", "--delete", UNKNOWN, contains=UNKNOWN),
        _b("run", "endpoint down", "--models", "down", writes=True, info=("run ",),
           contains="down"),
        _r("results", "unknown run", "results", "--run", UNKNOWN, contains=UNKNOWN),
        # -- rank
        _r("rank", "unknown run", "rank", "--run", UNKNOWN, contains=UNKNOWN),
        _r("rank", "weights not numbers", "rank", "--weights", "a,b,c"),
        _r("rank", "two weights", "rank", "--weights", "1,2"),
        _r("rank", "unknown preset", "rank", "--preset", UNKNOWN),
        _r("rank", "preset and weights", "rank", "--preset", "laptop-assistant", "--weights",
           "1,1,1"),
        _r("rank", "unknown cost basis", "rank", "--cost-basis", "vibes"),
        # -- token-level measurements
        _b("perplexity", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("perplexity", "file missing", "--file", "{missing}"),
        _b("perplexity", "file is a folder", "--file", f"{f}/folder.csv"),
        _b("perplexity", "file not UTF-8", "--file", f"{f}/latin1.txt"),
        _b("perplexity", "file empty", "--file", f"{f}/empty.txt"),
        _b("perplexity", "ctx 0", "--ctx", "0"),
        _b("perplexity", "ctx not a number", "--ctx", "big"),
        _b("perplexity", "file unreadable", "--file", f"{f}/unreadable.txt",
           process="unprivileged"),
        _b("score", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("score", "empty continuation", "--continuation", "", contains="empty"),
        _b("score", "top-k negative", "--top-k", "-1"),
        _b("score", "top-k not a number", "--top-k", "some"),
        _r("quantize", "unknown model", "quantize", UNKNOWN, contains=UNKNOWN),
        _b("quantize", "unknown type", "--types", "Q9_Z"),
        _b("kld", "unknown base", "--base", UNKNOWN, contains=UNKNOWN),
        _b("kld", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("kld", "file missing", "--file", "{missing}"),
        _b("kld", "ctx 0", "--ctx", "0"),
        _r("ladder", "no model, no run", "ladder", "--types", "Q8_0"),
        _r("ladder", "unknown model", "ladder", UNKNOWN, "--file", f"{f}/text.txt",
           contains=UNKNOWN),
        _r("ladder", "unknown run", "ladder", "--run", UNKNOWN, contains=UNKNOWN),
        _r("ladder", "run of another kind", "ladder", "--run", "{run}"),
        _r("ladder", "unknown suite", "ladder", "smol", "--suite", UNKNOWN, contains=UNKNOWN),
        _b("ladder", "file missing", "--file", "{missing}"),
        _b("ladder", "unknown type", "--types", "Q9_Z"),
        _b("ladder", "file unreadable", "--file", f"{f}/unreadable.txt",
           process="unprivileged"),
    ]  # fmt: skip


def classify_rows() -> list[Row]:
    """Bad inputs of `classify`, `learn` and `loadtest`."""
    f = "{files}"
    imp = ("--id-column", "id", "--text-column", "text")
    return [
        _r("classify import", "file missing", "classify", "import", "{missing}", "--name",
           "x", *imp),
        _r("classify import", "path is a folder", "classify", "import", f"{f}/folder.csv",
           "--name", "x", *imp),
        _r("classify import", "file not UTF-8", "classify", "import", f"{f}/latin1.csv",
           "--name", "x", *imp),
        _r("classify import", "file empty", "classify", "import", f"{f}/empty.txt", "--name",
           "x", *imp),
        _b("classify import", "unknown column", "--id-column", UNKNOWN, expect="rows"),
        _b("classify import", "name taken", "--name", "bills", contains="exists"),
        _r("classify import", "no name", "classify", "import", f"{f}/texts.csv", *imp),
        _r("classify import", "file unreadable", "classify", "import", f"{f}/unreadable.csv",
           "--name", "x", *imp, process="unprivileged"),
        _b("classify codebook", "unknown codebook", "--name", UNKNOWN, contains=UNKNOWN),
        _r("classify codebook", "file missing", "classify", "codebook", "{missing}", "--name",
           "cb"),
        _r("classify codebook", "file not UTF-8", "classify", "codebook", f"{f}/latin1.csv",
           "--name", "cb"),
        _r("classify codebook", "name taken", "classify", "codebook", f"{f}/codebook.csv",
           "--name", "topics", contains="exists"),
        _r("classify codebook", "file without a name", "classify", "codebook",
           f"{f}/codebook.csv"),
        _r("classify codebook", "file unreadable", "classify", "codebook",
           f"{f}/unreadable.csv", "--name", "cb", process="unprivileged"),
        _b("classify run", "unknown dataset", "--dataset", UNKNOWN, contains=UNKNOWN),
        _b("classify run", "unknown codebook", "--codebook", UNKNOWN, contains=UNKNOWN),
        _b("classify run", "unknown model", "--models", UNKNOWN, contains=UNKNOWN),
        _b("classify run", "shots negative", "--shots", "-1"),
        _b("classify run", "sample 0", "--sample", "0"),
        _r("classify run", "resume unknown run", "classify", "run", "--resume", UNKNOWN,
           contains=UNKNOWN),
        _r("classify run", "nothing to code", "classify", "run"),
        _b("classify run", "endpoint down", "--models", "down", writes=True,
           info=("coding: ", "run "), contains="down"),
        *[
            row
            for name in ("review-stats", "agreement", "metrics", "export")
            for row in (
                _b(f"classify {name}", "unknown dataset", "--dataset", UNKNOWN,
                   contains=UNKNOWN),
                _b(f"classify {name}", "unknown codebook", "--codebook", UNKNOWN,
                   contains=UNKNOWN),
                _b(f"classify {name}", "unknown run", "--runs", UNKNOWN, contains=UNKNOWN),
            )
        ],
        _b("classify export", "out is the store", "--out", "{store}", contains="database"),
        _b("classify export", "out exists, no --force", "--out", "{out}/existing.csv",
           contains="exists"),
        # -- learn
        _r("learn probe", "nothing to train on", "learn", "probe"),
        _b("learn probe", "unknown dataset", "--dataset", UNKNOWN, contains=UNKNOWN),
        _b("learn probe", "unknown codebook", "--codebook", UNKNOWN, contains=UNKNOWN),
        _b("learn probe", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("learn probe", "test share above 1", "--test-share", "2"),
        _b("learn probe", "C negative", "--c", "-1"),
        _r("learn probe", "delete unknown probe", "learn", "probe", "--delete", UNKNOWN,
           contains=UNKNOWN),
        _r("learn code", "unknown probe", "learn", "code", "--probe", UNKNOWN, "--dataset",
           "bills", contains=UNKNOWN),
        _b("learn code", "sample 0", "--sample", "0"),
        _r("learn finetune", "nothing to train on", "learn", "finetune"),
        _b("learn finetune", "unknown dataset", "--dataset", UNKNOWN, contains=UNKNOWN),
        _b("learn finetune", "unknown model", "--model", UNKNOWN, contains=UNKNOWN),
        _b("learn finetune", "rank 0", "--rank", "0"),
        _b("learn finetune", "epochs not a number", "--epochs", "many"),
        _r("learn finetune", "resume unknown run", "learn", "finetune", "--resume", UNKNOWN,
           contains=UNKNOWN),
        _r("learn adapters", "delete unknown adapter", "learn", "adapters", "--delete",
           UNKNOWN, contains=UNKNOWN),
        _r("learn curve", "nothing to learn from", "learn", "curve"),
        _b("learn curve", "unknown dataset", "--dataset", UNKNOWN, contains=UNKNOWN),
        _b("learn curve", "unknown method", "--methods", UNKNOWN, contains=UNKNOWN),
        _b("learn curve", "sizes not numbers", "--sizes", "a,b"),
        _r("learn curve", "show unknown run", "learn", "curve", "--show", UNKNOWN,
           contains=UNKNOWN),
        _r("learn curve", "resume unknown run", "learn", "curve", "--resume", UNKNOWN,
           contains=UNKNOWN),
        _r("learn compare", "unknown run", "learn", "compare", UNKNOWN, contains=UNKNOWN),
        _b("learn compare", "run of another kind"),
        _b("learn compare", "n not a number", "--n", "all"),
        _b("learn compare", "weights not numbers", "--weights", "a,b,c"),
        # -- loadtest
        _r("loadtest", "nothing to load", "loadtest"),
        _r("loadtest", "unknown model", "loadtest", UNKNOWN, contains=UNKNOWN),
        _r("loadtest", "unknown run", "loadtest", "--run", UNKNOWN, contains=UNKNOWN),
        _r("loadtest", "concurrency 0", "loadtest", "down", "--concurrency", "0"),
        _r("loadtest", "concurrency not numbers", "loadtest", "down", "--concurrency", "a,b"),
        _r("loadtest", "requests 0", "loadtest", "down", "--requests", "0"),
        _r("loadtest", "endpoint down", "loadtest", "down", "--quiet", writes=True,
           info=("load test ", "run "), contains="down"),
    ]  # fmt: skip


def leaf_commands() -> dict[str, argparse.ArgumentParser]:
    """Every `perfics` command, from the parser itself: "classify import" -> its parser."""
    found = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[" ".join(path)] = parser
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, (*path, name))

    walk(build_parser(), ())
    return found


# Options whose value BASE's call never reads (so any value passes), or that take a file path:
# a path may be any bytes on Linux, and a missing file has its own rows.
NOT_TEXT = {
    ("classify import", "--sheet"),
    ("classify import", "--separator"),
    ("classify import", "--gold-column"),
    ("classify import", "--intensity-column"),
    ("learn curve", "--metrics"),
    ("learn curve", "--show"),
    ("generate", "--schema"),
    ("perplexity", "--file"),
    ("kld", "--file"),
    ("ladder", "--file"),
    ("suite import", "--references"),
    # an export keeps the bytes of its --out name (unit/test_store_safety.py tests that)
    ("export", "--out"),
    ("classify export", "--out"),
}


def text_options(parser: argparse.ArgumentParser) -> list[str]:
    """The options that take free text (no choices, no number, not a flag)."""
    return [
        action.option_strings[-1]
        for action in parser._actions
        if action.option_strings
        and action.nargs != 0
        and action.choices is None
        and action.type in (None, str)
        and not isinstance(action, argparse._HelpAction)
    ]


def utf8_rows() -> list[Row]:
    """Every text option of every command given the bytes b"caf\\xe9" (invalid UTF-8)."""
    rows = []
    for command, parser in leaf_commands().items():
        for option in text_options(parser):
            if (command, option) not in NOT_TEXT:
                rows.append(_b(command, f"invalid UTF-8 in {option}", option, BAD_UTF8))
    return rows


ROWS = [*state_rows(), *input_rows(), *classify_rows(), *utf8_rows()]
