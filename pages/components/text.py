"""Showing model output as text: Markdown specials escaped, and word-level diffs."""

from __future__ import annotations

import re

from core.app.options import word_diff

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def escape(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def diff_markdown(before: str, after: str) -> str:
    styles = {"equal": "{}", "delete": ":red-background[~~{}~~]", "insert": ":green-background[{}]"}
    return " ".join(styles[op].format(escape(words)) for op, words in word_diff(before, after))
