"""Choices made once and kept in the store, so the dashboard, another browser tab and the CLI
all see them: the hardware profile that prices local inference, and its currency."""

from __future__ import annotations

from dataclasses import asdict, fields

from core.app import context
from core.errors import InvalidRequest
from core.ranking.cost import HARDWARE_PRESETS
from core.types import HardwareProfile

HARDWARE = "hardware_profile"
CURRENCIES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "INR", "CNY")


def hardware() -> HardwareProfile:
    """The saved hardware profile, or the first preset when none was saved (or the saved one
    no longer validates: a preference must never stop a page from opening)."""
    stored = context.store().preferences.get(HARDWARE)
    if stored:
        known = {f.name for f in fields(HardwareProfile)}
        try:
            return HardwareProfile(**{k: v for k, v in stored.items() if k in known})
        except (InvalidRequest, TypeError):
            pass
    return HARDWARE_PRESETS[0]


def save_hardware(profile: HardwareProfile) -> None:
    if profile != hardware():
        context.store().preferences.put(HARDWARE, asdict(profile))
