"""Project-written prompt templates for self-refinement, kept in one place.

Templates are domain-agnostic on purpose (the method gives the model no rubric and no
task-specific hints). Each has an id and a version that are stored with every run. A template
edited by the user becomes a new template whose id is derived from its text, so a stored run
always names the exact words it used.
"""

from __future__ import annotations

import hashlib

from core.errors import InvalidRequest
from core.types import PromptTemplate

KINDS = ("critique", "verdict", "refine")

CRITIQUE_V1 = PromptTemplate(
    id="critique-v1",
    kind="critique",
    version=1,
    text=(
        "Review your previous answer to the original request. List any factual errors, "
        "missing information, unclear wording, or ways it does not do what was asked. Be "
        "specific and brief. Do not rewrite the answer yet."
    ),
)

# Asked after the critique and answered under a yes/no grammar, so the early-stop decision
# never depends on spotting a keyword in free text.
VERDICT_V1 = PromptTemplate(
    id="verdict-v1",
    kind="verdict",
    version=1,
    text="Based on your review, does the answer need to be changed? Reply with yes or no.",
)

REFINE_V1 = PromptTemplate(
    id="refine-v1",
    kind="refine",
    version=1,
    text=(
        "Rewrite your answer to the original request, fixing every problem your review found. "
        "Reply with the improved answer only."
    ),
)

BUILT_IN = {t.id: t for t in (CRITIQUE_V1, VERDICT_V1, REFINE_V1)}
DEFAULTS = {"critique": CRITIQUE_V1, "verdict": VERDICT_V1, "refine": REFINE_V1}
VERDICT_GRAMMAR = 'root ::= "yes" | "no"'


def from_text(kind: str, text: str) -> PromptTemplate:
    """The built-in template when the text is unchanged, else a new custom one."""
    if kind not in KINDS:
        raise InvalidRequest(f"Unknown template kind {kind!r}")
    if not text.strip():
        raise InvalidRequest(f"The {kind} template is empty.")
    default = DEFAULTS[kind]
    if text.strip() == default.text:
        return default
    digest = hashlib.sha256(text.strip().encode()).hexdigest()[:10]
    return PromptTemplate(id=f"{kind}-custom-{digest}", kind=kind, version=1, text=text.strip())
