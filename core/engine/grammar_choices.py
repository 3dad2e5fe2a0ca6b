"""Every string a small, finite GBNF grammar allows, so the fake backend can answer any
grammar-constrained request validly without knowing who asked.

Supports what the project's verdict grammars use: rules (`name ::= ...`), string literals,
character classes such as `[1-9]`, rule references, groups and alternation, plus the
optional `?` (JSON-schema grammars of enums and consts use it for whitespace). A grammar with
repetition (`*`, `+`) or anything else is not enumerated: choices() returns None.
"""

from __future__ import annotations

import itertools
import re

_TOKEN = re.compile(r'\s*(?:(::=)|("(?:[^"\\]|\\.)*")|(\[[^\]]*\])|([A-Za-z][\w-]*)|([|()?]))')
MAX_CHOICES = 1000


class _NotFinite(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _NotFinite(f"unsupported grammar text at {text[pos : pos + 10]!r}")
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _rules(grammar: str) -> dict[str, list[str]]:
    tokens = _tokens(grammar)
    rules: dict[str, list[str]] = {}
    starts = [i for i in range(len(tokens) - 1) if tokens[i + 1] == "::="]
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        rules[tokens[i]] = tokens[i + 2 : end]
    return rules


def _class_chars(spec: str) -> list[str]:
    body, chars, i = spec[1:-1], [], 0
    if body.startswith("^"):
        raise _NotFinite("negated character class")
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars += [chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1)]
            i += 3
        else:
            chars.append(body[i])
            i += 1
    return chars


class _Expander:
    def __init__(self, rules: dict[str, list[str]]):
        self.rules = rules
        self.active: set[str] = set()

    def rule(self, name: str) -> list[str]:
        if name not in self.rules or name in self.active:
            raise _NotFinite(f"unknown or recursive rule {name!r}")
        self.active.add(name)
        try:
            strings, rest = self.alternatives(self.rules[name])
        finally:
            self.active.discard(name)
        if rest:
            raise _NotFinite("unbalanced grammar")
        return strings

    def alternatives(self, tokens: list[str]) -> tuple[list[str], list[str]]:
        strings, rest = self.sequence(tokens)
        while rest and rest[0] == "|":
            more, rest = self.sequence(rest[1:])
            strings += more
        return strings, rest

    def sequence(self, tokens: list[str]) -> tuple[list[str], list[str]]:
        strings = [""]
        while tokens and tokens[0] not in ("|", ")"):
            head, tokens = tokens[0], tokens[1:]
            if head == "(":
                part, tokens = self.alternatives(tokens)
                if not tokens or tokens[0] != ")":
                    raise _NotFinite("unbalanced parenthesis")
                tokens = tokens[1:]
            elif head.startswith('"'):
                part = [head[1:-1].encode().decode("unicode_escape")]
            elif head.startswith("["):
                part = _class_chars(head)
            else:
                part = self.rule(head)
            if tokens and tokens[0] == "?":
                part, tokens = ["", *part], tokens[1:]
            strings = [a + b for a, b in itertools.product(strings, part)]
            if len(strings) > MAX_CHOICES:
                raise _NotFinite("too many strings")
        return strings, tokens


def choices(grammar: str) -> list[str] | None:
    """All strings the grammar's root rule matches, in grammar order; None if not finite."""
    try:
        return _Expander(_rules(grammar)).rule("root")
    except _NotFinite:
        return None
