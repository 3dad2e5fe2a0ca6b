"""Text that can be tokenized, stored and written out: valid UTF-8, decoded strictly.

On POSIX, Python hands over command-line arguments (and file names) whose bytes are not UTF-8
as lone surrogates ("surrogateescape", PEP 383): byte 0xff becomes U+DCFF. Such a string
cannot be encoded again, so it fails far from where it came in: in the tokenizer, in a JSON
column, in a DuckDB parameter. check_text refuses it where it comes in, naming the byte; the
engine's request checks and the use cases that store names call it. File paths are the one
exception: a POSIX file name may hold any bytes, so paths keep their surrogates and are only
ever opened, never stored as text (see the CLI's PATH_ARGUMENTS).
"""

from __future__ import annotations

import codecs
import json

from core.errors import InvalidRequest

_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape's range: bytes 0x80-0xff


def surrogate_problem(text: str) -> str | None:
    """Where `text` stops being valid Unicode ("byte 0xff at character 4", counting from 1),
    or None when it encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if code in _ESCAPED_BYTES else f"U+{code:04X}"
        return f"{what} at character {exc.start + 1}"
    return None


def check_text(text: str, what: str) -> str:
    """`text`, unchanged, or InvalidRequest when it holds a lone surrogate."""
    problem = surrogate_problem(text)
    if problem:
        raise InvalidRequest(f"{what} is not valid UTF-8: {problem}")
    return text


def decode_utf8(data: bytes, what: str) -> str:
    """Bytes read from a file or stdin as text: one leading UTF-8 byte order mark (as Windows
    editors write) is dropped, and anything not UTF-8 is refused with its byte offset."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        raise InvalidRequest(
            f"{what} is not valid UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
            f"({exc.reason}); save it as UTF-8"
        ) from None


def json_loads_text(raw: str, **options):
    """json.loads, refusing a lone surrogate escape ("\\ud800" with no partner): JSON allows
    it, but it is not text, and nothing downstream can encode it."""
    value = json.loads(raw, **options)
    problem = surrogate_problem(json.dumps(value, ensure_ascii=False))
    if problem:
        code = problem.split(" at ")[0]
        raise json.JSONDecodeError(f"{code} is a lone surrogate escape, which is not text", raw, 0)
    return value
