"""Statistics as table cells: "value [low, high]", or "n/a" with the reason collected for a
caption under the table, never NaN."""

from __future__ import annotations

import streamlit as st

from core.types.agreement import MetricValue
from pages.components.text import escape

NA = "n/a"


def shown(value: MetricValue | None, percent: bool = False) -> str:
    """ "0.612 [0.501, 0.702]", "76.0 % [70.1, 81.2]", a value alone when it has no interval,
    or "n/a"."""
    if value is None or value.value is None:
        return NA
    if percent:
        text = f"{100 * value.value:.1f} %"
        if value.low is None or value.high is None:
            return text
        return f"{text} [{100 * value.low:.1f}, {100 * value.high:.1f}]"
    if value.low is None or value.high is None:
        return f"{value.value:.3f}"
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"


class Missing:
    """Why cells of one table read n/a: noted while the rows are built, shown once below."""

    def __init__(self) -> None:
        self.notes: dict[str, list[str]] = {}

    def cell(self, value: MetricValue | None, where: str, percent: bool = False) -> str:
        text = shown(value, percent)
        if text == NA:
            reason = (value.reason if value is not None else None) or "not computed"
            self.notes.setdefault(reason, []).append(where)
        return text

    def caption(self, limit: int = 6) -> None:
        if not self.notes:
            return
        parts = []
        for reason, places in self.notes.items():
            more = f" and {len(places) - limit} more" if len(places) > limit else ""
            parts.append(f"{'; '.join(places[:limit])}{more}: {reason}")
        st.caption(escape(f"{NA} · " + " · ".join(parts)))
