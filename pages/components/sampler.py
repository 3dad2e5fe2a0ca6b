"""The sampling inputs every generating screen shows: max tokens, temperature, seed."""

from __future__ import annotations

from core.app.options import SAMPLER_DEFAULTS
from core.types import SamplerSettings


def sampler_inputs(
    columns,
    prefix: str,
    max_tokens: int = 384,
    max_tokens_label: str = "Max tokens per step",
    max_tokens_range: tuple[int, int] = (16, 2048),
) -> SamplerSettings:
    """Three inputs in the given three columns, keyed `{prefix}_max_tokens`, `_temperature`
    and `_seed`; returns the settings they describe."""
    lo, hi = max_tokens_range
    tokens = columns[0].number_input(
        max_tokens_label, lo, hi, max_tokens, key=f"{prefix}_max_tokens"
    )
    temperature = columns[1].slider(
        "Temperature", 0.0, 2.0, SAMPLER_DEFAULTS.temperature, 0.05, key=f"{prefix}_temperature"
    )
    seed = columns[2].number_input(
        "Seed", 0, 2**31 - 1, SAMPLER_DEFAULTS.seed, key=f"{prefix}_seed"
    )
    return SamplerSettings(temperature=temperature, max_tokens=int(tokens), seed=int(seed))
