"""Numbers as people read them, shared by the CLI and the pages: an estimate with its 95 %
interval and sample size, so no figure is ever shown without its n."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _missing(x: Any) -> bool:
    return x is None or x != x  # NaN is the only value unequal to itself


def with_ci(value, low, high, n, fmt: str = "{:.2f}") -> str:
    """ "0.50 [0.20–0.80] (n=10)"; the interval is left out when there is none, and a missing
    value is a dash."""
    if _missing(value):
        return "–"
    if _missing(low) or _missing(high):
        return f"{fmt.format(value)} (n={n})"
    return f"{fmt.format(value)} [{fmt.format(low)}–{fmt.format(high)}] (n={n})"


def estimate(row: Mapping[str, Any], column: str, fmt: str = "{:.2f}") -> str:
    """A results row's `column` with its `_low`, `_high` and `_n` companions."""
    return with_ci(
        row[column], row[f"{column}_low"], row[f"{column}_high"], row[f"{column}_n"], fmt
    )


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(amount: float | None, currency: str, decimals: int = 2) -> str:
    """ "$1,234.50", "€0.0031", "1,234.50 CHF": an amount always with its currency."""
    if _missing(amount):
        return "–"
    number = f"{abs(amount):,.{decimals}f}"
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"
