"""The Backend protocol every model implementation follows (llama.cpp in-process, the fake
backend for tests, and later remote endpoints)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.types import ChoiceScores, Generation, ModelInfo, SamplerSettings, TextScore

OnToken = Callable[[str], None] | None


class Backend(Protocol):
    info: ModelInfo
    version: str  # what produced the text, e.g. "llama-cpp-python 0.3.36"

    def chat(
        self, messages: list[dict[str, str]], settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation: ...

    def complete(
        self, prompt: str, settings: SamplerSettings, on_token: OnToken = None
    ) -> Generation: ...

    def score_choices(
        self, messages: list[dict[str, str]], prefix: str, choices: Sequence[str]
    ) -> ChoiceScores | None:
        """The assistant's reply `prefix + choice` among fixed choices: P(each choice),
        renormalised over the choices, and the choice a temperature-0 sampler writes. None
        when the backend exposes no token probabilities; the caller samples under a grammar."""
        ...

    def score_text(self, context: str, continuation: str, top_k: int = 5) -> TextScore | None:
        """Teacher-forced log-probability, rank, entropy and top_k alternatives of each token
        of `continuation` after `context`, tokenised separately. None when the backend
        exposes no token probabilities."""
        ...

    def score_reply(
        self, messages: list[dict[str, str]], reply: str, top_k: int = 5
    ) -> TextScore | None:
        """score_text for a chat answer: `reply` after the conversation formatted exactly as
        chat() gives it to the model (its chat template, special tokens included). None when
        the backend exposes no token probabilities."""
        ...
