"""The hardware profile the user edits on Costs and the Trade-offs page reuses."""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from core.app.options import HARDWARE_PRESETS
from core.types import HardwareProfile

KEY = "costs_hardware"


def hardware() -> HardwareProfile:
    stored = st.session_state.get(KEY)
    return HardwareProfile(**stored) if stored else HARDWARE_PRESETS[0]


def save(profile: HardwareProfile) -> None:
    st.session_state[KEY] = asdict(profile)
