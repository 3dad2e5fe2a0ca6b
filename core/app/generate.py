"""Use case: one answer from one model, stored."""

from __future__ import annotations

from dataclasses import dataclass

from core.app import context
from core.engine import Backend, OnToken
from core.types import Generation, SamplerSettings


@dataclass(frozen=True)
class GenerateOutcome:
    generation_id: str
    generation: Generation


def generate(
    backend: Backend,
    prompt: str,
    settings: SamplerSettings,
    on_token: OnToken = None,
    raw: bool = False,
) -> GenerateOutcome:
    """Chat (or a raw completion) and store the generation. The store is checked first, so a
    locked or unwritable database fails before any time is spent generating."""
    store = context.store()
    store.init()
    if raw:
        gen = backend.complete(prompt, settings, on_token)
    else:
        gen = backend.chat([{"role": "user", "content": prompt}], settings, on_token)
    store.models.upsert(backend.info)
    return GenerateOutcome(store.generations.save(gen), gen)
