"""The hardware profile the user edits on Costs and the Trade-offs page reuses. It is kept in
the store (core.app.preferences), so it survives a reload and the CLI prices the same way."""

from __future__ import annotations

from core.app.preferences import hardware, save_hardware

__all__ = ["hardware", "save"]


def save(profile) -> None:
    save_hardware(profile)
