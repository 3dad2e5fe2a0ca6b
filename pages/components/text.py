"""Showing model output as text: Markdown specials escaped, and word-level diffs.

Model output is untrusted. Rendered as Markdown it could make the browser fetch a remote image
(`![x](http://…)`) or turn a URL into a link; escaped, it is shown exactly as written and the
browser fetches nothing. Streamlit never renders raw HTML in markdown, so `<script>` stays text.
Every page shows model text (answers, critiques, questions and references from imported
suites) through `show_model_text` or `escape`; HTML built for st.html (the token view) puts
it through `escape_html`, so it is only ever text there too.
"""

from __future__ import annotations

import html
import re

from core.app.options import word_diff

# `/` too: Streamlit turns `:material/name:` into an icon before parsing, escapes or not.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:/])")


def escape(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def escape_html(text: str) -> str:
    """Untrusted text as HTML text or an attribute value: `<`, `>`, `&` and both quotes become
    entities, so no tag or attribute can be opened (st.html does not parse Markdown)."""
    return html.escape(text, quote=True)


def show_model_text(container, text: str | None, empty: str = "_(empty answer)_") -> None:
    """Untrusted text into a Streamlit container (st, a column, an st.empty() slot)."""
    container.markdown(escape(text) if text else empty)


def diff_markdown(before: str, after: str) -> str:
    styles = {"equal": "{}", "delete": ":red-background[~~{}~~]", "insert": ":green-background[{}]"}
    return " ".join(styles[op].format(escape(words)) for op, words in word_diff(before, after))
