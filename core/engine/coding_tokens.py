"""Token ids exactly as llama.cpp sees a coding prompt and its answer, for training examples
(core/evaluation/finetune_examples.py): the prompt through the backend's own chat formatting
(its chat template, or the plain transcript for models without one) and the answer tokenised
on its own, as LlamaBackend.score_choices tokenises the labels it decodes along."""

from __future__ import annotations

from core.engine.llama import LlamaBackend


class LlamaCodingTokens:
    def __init__(self, backend: LlamaBackend):
        self.backend = backend

    def prompt(self, conversation: list[dict[str, str]]) -> list[int]:
        return list(self.backend.chat_prompt(conversation)[1])

    def answer(self, text: str) -> list[int]:
        return self.backend.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    @property
    def end(self) -> int:
        return self.backend.llm.token_eos()
