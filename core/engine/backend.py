"""The Backend protocol every model implementation follows (llama.cpp in-process, the fake
backend for tests, and later remote endpoints)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.types import Generation, ModelInfo, SamplerSettings

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

    def choice_probabilities(
        self, messages: list[dict[str, str]], prefix: str, choices: Sequence[str]
    ) -> dict[str, float] | None:
        """P(the assistant replies exactly `prefix + choice`) for each choice, renormalised over
        the choices; None when the backend exposes no token probabilities."""
        ...
