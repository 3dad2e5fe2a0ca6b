"""Prompt checks and the plain transcript format for models without a chat template.

Base models (Gemma 3 270M, say) get the User/Assistant transcript documented in
docs/prompt-formats.md; the stop strings keep the model from writing the user's next turn.
"""

from __future__ import annotations

from core.errors import InvalidRequest
from core.types.text import check_text

FALLBACK_ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}
FALLBACK_STOP = ("\nUser:", "\nSystem:")


def check_prompt(prompt: str) -> None:
    if not prompt or not prompt.strip():
        raise InvalidRequest("The prompt is empty; type a question or instruction first.")
    check_text(prompt, "The prompt")


def check_messages(messages: list[dict[str, str]]) -> None:
    if not messages:
        raise InvalidRequest("The conversation is empty.")
    for m in messages:
        if m.get("role") not in FALLBACK_ROLE_LABELS:
            raise InvalidRequest(f"Unknown chat role {m.get('role')!r}")
        check_text(m.get("content", ""), f"The {m['role']} message")
    if not messages[-1].get("content", "").strip():
        raise InvalidRequest("The prompt is empty; type a question or instruction first.")


def fallback_chat_prompt(messages: list[dict[str, str]]) -> str:
    check_messages(messages)
    turns = [f"{FALLBACK_ROLE_LABELS[m['role']]}: {m['content'].strip()}" for m in messages]
    return "\n\n".join(turns) + "\n\nAssistant:"
