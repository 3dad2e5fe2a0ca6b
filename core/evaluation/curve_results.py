"""A learning curve's results: its points averaged over repeats (the arithmetic is SQL, in
core/store/curves.py; this module supplies the t quantiles and shapes the tables), and the
comparison of its methods at one n with what coding and learning cost on a hardware profile.

Costs are the workbench's (core/app/classify.with_costs prices a coder the same way):
- coding: seconds per text = a point's coding seconds / the held-out texts it was given;
  money per 1,000 texts = that × 1,000 × the profile's busy cost per second (AnswerCost);
  energy = seconds × 1,000 × watts.
- learning: CPU-hours = training seconds × the threads it ran on / 3,600; energy = training
  seconds × watts; money = training seconds × the busy cost per second.
"""

from __future__ import annotations

import math

import pandas as pd

from core.errors import InvalidRequest
from core.store import Store
from core.types import AnswerCost, HardwareProfile
from core.types.agreement import MetricValue
from core.types.curves import CompareRow, CurveConfig, CurveMethod

CONFIDENCE = 0.95
BASE = "base"  # the comparison's name for a model zero-shot (the k-shot line at n = 0)
ROW_KEYS = ["model", "method", "n_train"]


def t_quantiles(max_repeats: int, confidence: float = CONFIDENCE) -> list[float]:
    """Element d − 1 is Student's t quantile at 1 − α/2 with d degrees of freedom, for d from
    1 to max_repeats − 1 (at least one element, so the list always has a type in SQL)."""
    from scipy.stats import t

    return [float(t.ppf(0.5 + confidence / 2, df)) for df in range(1, max(max_repeats, 2))]


def aggregate(store: Store, run_id: str, config: CurveConfig) -> pd.DataFrame:
    """One row per method, model, n and metric: mean, low, high, interval, repeats, n_texts,
    seconds and reason (core/store/curves.AGGREGATE_SQL)."""
    return store.curves.aggregate(run_id, t_quantiles(config.repeats))


def wide_table(long: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """One row per model, method and n: repeats, held-out texts counted, the interval's kind,
    each metric's mean, low and high (columns `metric`, `metric_low`, `metric_high`), mean
    training and coding seconds, and why a point has no value."""
    per_metric = [f"{m}{suffix}" for m in metrics for suffix in ("", "_low", "_high")]
    columns = [
        *ROW_KEYS, "repeats", "n_texts", "interval", *per_metric,
        "train_seconds", "code_seconds", "reason",
    ]  # fmt: skip
    if long.empty:
        return pd.DataFrame(columns=columns)
    chosen = long[long.metric.isin(metrics)]
    first = chosen[chosen.metric == metrics[0]].set_index(ROW_KEYS)
    table = first[["repeats", "n_texts", "interval", "train_seconds", "code_seconds", "reason"]]
    for metric in metrics:
        part = chosen[chosen.metric == metric].set_index(ROW_KEYS)
        table = table.join(
            part[["mean", "low", "high"]].rename(
                columns={"mean": metric, "low": f"{metric}_low", "high": f"{metric}_high"}
            )
        )
    table = table.reset_index()[columns]
    return table.sort_values(ROW_KEYS, kind="stable").reset_index(drop=True)


def _value(row) -> MetricValue:
    def number(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    reason = row.reason if isinstance(row.reason, str) else None
    return MetricValue(
        number(row.mean), number(row.low), number(row.high), int(row.n_texts), reason
    )


def compare_n(config: CurveConfig, n: int | None) -> int:
    """The n to compare at: the one asked for (one of the curve's sizes), else the largest."""
    if n is None:
        return max(config.sizes)
    if n not in config.sizes:
        sizes = ", ".join(str(s) for s in config.sizes)
        raise InvalidRequest(f"The curve measured n = {sizes}; it has no points at n = {n}.")
    return n


def compare_rows(
    config: CurveConfig, long: pd.DataFrame, n: int, hw: HardwareProfile
) -> tuple[CompareRow, ...]:
    """Per model: the base model zero-shot (when the curve has k-shot), then each method at n
    (k-shot at n = 0 is the base itself); a method with no point there is left out."""
    held_out = len(config.held_out_ids)
    wanted: list[tuple[str, str, int]] = []
    for model in config.model_names:
        if CurveMethod.KSHOT in config.methods:
            wanted.append((model, BASE, 0))
        for method in config.methods:
            if not (method == CurveMethod.KSHOT and n == 0):
                wanted.append((model, method, n))
    rows = []
    for model, method, size in wanted:
        stored = CurveMethod.KSHOT if method == BASE else method
        part = long[(long.model == model) & (long.method == stored) & (long.n_train == size)]
        if part.empty:
            continue
        metrics = {r.metric: _value(r) for r in part.itertuples()}
        head = part.iloc[0]
        code_seconds = float(head.code_seconds)
        train_seconds = float(head.train_seconds)
        threads = config.lora.threads if method == CurveMethod.LORA else config.threads
        per_text = code_seconds / held_out if held_out and code_seconds > 0 else None
        cost = AnswerCost(per_text, 0.0, 0.0, held_out) if per_text is not None else None
        rows.append(
            CompareRow(
                model=model,
                method=method,
                n_train=size,
                repeats=int(head.repeats),
                held_out=held_out,
                metrics=metrics,
                interval=head.interval if isinstance(head.interval, str) else None,
                seconds_per_text=per_text,
                money_per_1000=cost.money_per_1000(hw) if cost else None,
                energy_kwh_per_1000=cost.energy_kwh_per_1000(hw) if cost else None,
                train_seconds=train_seconds,
                train_cpu_hours=train_seconds * threads / 3600,
                train_energy_kwh=train_seconds * hw.watts / 3.6e6,
                train_money=train_seconds * hw.busy_cost_per_second,
            )
        )
    return tuple(rows)
