"""Numbers as people read them, shared by the CLI and the pages: an estimate with its 95 %
interval and sample size, so no figure is ever shown without its n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.types import RunEstimate, RunState


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


def duration(seconds: float) -> str:
    """A time span as people say it: "40 s", "7 min", "2 h 5 min"."""
    if seconds < 59.5:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"


def eta_short(e: RunEstimate) -> str:
    """For a button: "about 7 min", "at least 7 min" or "time unknown"."""
    if e.seconds is None:
        return "time unknown"
    return f"{'about' if e.complete else 'at least'} {duration(e.seconds)}"


def estimate_text(e: RunEstimate) -> str:
    """A run's size and expected time with what the time rests on, e.g. "42 units (36
    answers + 6 pairs, 18 questions) · about 7 min, from 30 earlier units (n=30)"."""
    size = f"{e.units} units ({e.answers} answers + {e.pairs} pairs, {e.questions} questions)"
    if e.seconds is None:
        return f"{size} · time unknown: no measurements yet for these models on this machine"
    sources = []
    if e.measured_units:
        sources.append(f"earlier units (n={e.measured_units})")
    if e.measured_generations:
        sources.append(f"generation speed (n={e.measured_generations} generations)")
    text = f"{size} · {eta_short(e)}, from {' and '.join(sources)}"
    if e.rough:
        text += f"; rough for {', '.join(e.rough)}"
    if e.unmeasured:
        text += f"; no measurements yet for {', '.join(e.unmeasured)}"
    return text


def progress_text(s: RunState) -> str:
    """ "3 of 12 items · about 4 min left"; the time only while the run is queued or running."""
    text = f"{s.done} of {s.total} items"
    if not s.status.active:
        return text
    if s.eta_s is None or s.eta_s != s.eta_s:
        return f"{text} · time left not known yet"
    return f"{text} · about {duration(s.eta_s)} left"


LEAVES_MACHINE = "data leaves this machine"


def model_label(name: str, leaves_machine: bool = False) -> str:
    """A model's name as every selector and table shows it: marked when prompts sent to it go
    to another machine (an endpoint that is not on this one)."""
    return f"{name} ({LEAVES_MACHINE})" if leaves_machine else name


def data_left_text(endpoints: str | Sequence[str] | None) -> str | None:
    """A run record's note when some of its models were served from another machine: the
    endpoints' names, as a list or as the runs overview joins them ("a, b"); None without."""
    if _missing(endpoints) or not endpoints:
        return None
    names = endpoints if isinstance(endpoints, str) else ", ".join(endpoints)
    return f"data left this machine (endpoint {names})"
