"""Training examples for LoRA fine-tuning: each labelled text in the very prompt the
classification workbench codes it with, followed by its answer as the workbench's decoder
spells it, so that an adapter is later scored with exactly the prompt it was trained on.

- Prompt: the zero-shot coding conversation (core/evaluation/coding.py: `messages`, the
  system prompt built from the codebook, the text as "Text: ..."), as the model sees it before
  its turn: its chat template for chat models (SmolLM2), the plain User/Assistant transcript
  for models without one (Gemma 3 270M), tokenised by llama.cpp itself (CodingTokens).
- Answer: `answer_text` (a label name, or the JSON list of a multi-label task) tokenised on its
  own, as the decoder walks the labels' own tokens after the prompt
  (core/engine/choices.py), then the model's end-of-generation token.
- Labels: IGNORE_INDEX over the prompt, so the loss covers the answer and its end token only.
  Padding is masked later by position (the trainer), never by token id: SmolLM2's pad token
  is its end-of-turn token, which the model must learn to write.
- Length: an example longer than `max_tokens` is cut from the text, never from the answer:
  the longest prefix of the text whose prompt still fits, the chat template kept whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from core.errors import InvalidRequest
from core.evaluation.coding import CodingTask, answer_text, messages
from core.types.finetune import IGNORE_INDEX, TrainingExample


class CodingTokens(Protocol):
    """Token ids as llama.cpp sees them when it codes a text (core/engine/coding_tokens.py)."""

    def prompt(self, conversation: list[dict[str, str]]) -> list[int]:
        """The conversation formatted for the assistant's turn, special tokens included."""
        ...

    def answer(self, text: str) -> list[int]:
        """The assistant's reply tokenised on its own, as the decoder spells it."""
        ...

    @property
    def end(self) -> int:
        """The end-of-generation token that closes an answer."""
        ...


def _fitting_prompt(
    tokens: CodingTokens, task: CodingTask, text: str, room: int
) -> tuple[list[int], bool]:
    """The prompt of the longest prefix of `text` that leaves `room` tokens or fewer for the
    prompt, and whether the text was cut. Binary search over the prefix length: each probe
    formats the whole conversation, so the chat template is never cut."""
    whole = tokens.prompt(messages(task, text))
    if len(whole) <= room:
        return whole, False
    shortest = tokens.prompt(messages(task, ""))
    if len(shortest) > room:
        raise InvalidRequest(
            f"The coding prompt is {len(shortest)} tokens even with an empty text, which "
            f"leaves no room for the answer within max_tokens; raise max_tokens (the "
            "codebook's descriptions and examples make the prompt long)."
        )
    keep, fits = 0, shortest
    low, high = 1, len(text) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = tokens.prompt(messages(task, text[:middle].rstrip()))
        if len(candidate) <= room:
            keep, fits, low = middle, candidate, middle + 1
        else:
            high = middle - 1
    return fits, keep < len(text)


def build_example(
    tokens: CodingTokens,
    task: CodingTask,
    text_id: str,
    text: str,
    codes: Sequence[str],
    max_tokens: int,
) -> TrainingExample:
    answer = [*tokens.answer(answer_text(task, tuple(codes))), tokens.end]
    room = max_tokens - len(answer)
    if room < 1:
        raise InvalidRequest(
            f"The answer for text {text_id!r} is {len(answer)} tokens, more than max_tokens "
            f"({max_tokens}); raise max_tokens."
        )
    prompt, cut = _fitting_prompt(tokens, task, text, room)
    return TrainingExample(
        text_id=text_id,
        input_ids=tuple(prompt + answer),
        labels=tuple([IGNORE_INDEX] * len(prompt) + answer),
        text_cut=cut,
    )


def build_examples(
    tokens: CodingTokens,
    task: CodingTask,
    ids: Sequence[str],
    texts: Mapping[str, str],
    labelled: Mapping[str, Sequence[str]],
    max_tokens: int,
) -> list[TrainingExample]:
    """One example per text id, in the order given."""
    return [build_example(tokens, task, t, texts[t], labelled[t], max_tokens) for t in ids]
