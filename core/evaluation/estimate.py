"""How long a benchmark should take, from speeds measured on this machine.

A unit is what the runner counts (core.evaluation.benchmark.plan_units): an answer is one
model's baseline, `rounds` critiques and `rounds` rewrites, then the judge's grades in a judged
run; a pair is the judge comparing two models' answers in both orders.

The best measurement for a unit is the mean time of earlier units doing the same work: the
same model, rounds and judge for an answer, the same judge for a pair. Without one, an answer
is estimated roughly from the model's mean time per stored generation times the generations an
answer makes (1 + 2 x rounds), plus two pairs' worth of judging when the judge's pairs were
measured (an answer's judging is two grades and, when the rewrite changed it, a pair in both
orders). Anything else stays unmeasured: named, never guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from core.types import ItemKind, RunEstimate, RunUnit

WorkKey = tuple[str, str | None]  # ("answer", model) or ("pair", judge)


@dataclass(frozen=True)
class Speed:
    seconds: float  # per unit
    n: int  # measurements behind it: earlier units, or generations when rough
    rough: bool = False  # from the model's generation speed, not from earlier units


def answer_key(model: str) -> WorkKey:
    return (ItemKind.ANSWER.value, model)


def pair_key(judge: str | None) -> WorkKey:
    return (ItemKind.PAIR.value, judge)


def _mean(rows: pd.DataFrame) -> Speed | None:
    """The n-weighted mean of grouped means."""
    n = int(rows.n.sum()) if len(rows) else 0
    if not n:
        return None
    return Speed(float((rows.seconds * rows.n).sum() / n), n)


def _same_judge(rows: pd.DataFrame, judge: str | None) -> pd.Series:
    return rows.judge.isna() if judge is None else rows.judge == judge


def speeds_for(
    models: Sequence[str],
    rounds: int,
    judge: str | None,
    unit_speeds: pd.DataFrame,
    generation_speeds: pd.DataFrame,
) -> dict[WorkKey, Speed]:
    """The speed of each kind of work a run of `models` at `rounds` judged by `judge` does.
    `unit_speeds`: kind, model, rounds, judge, seconds, n (store.items.unit_speeds);
    `generation_speeds`: model, seconds, n (store.generations.speeds)."""
    speeds: dict[WorkKey, Speed] = {}
    units = unit_speeds
    if judge is not None:
        pairs = units[(units.kind == ItemKind.PAIR) & _same_judge(units, judge)]
        if (pair := _mean(pairs)) is not None:
            speeds[pair_key(judge)] = pair
    per_generation = {
        r.model: Speed(float(r.seconds), int(r.n))
        for r in generation_speeds.itertuples()
        if r.n and r.seconds == r.seconds
    }
    for model in models:
        same = units[
            (units.kind == ItemKind.ANSWER)
            & (units.model == model)
            & (units.rounds == rounds)
            & _same_judge(units, judge)
        ]
        if (answer := _mean(same)) is not None:
            speeds[answer_key(model)] = answer
        elif (gen := per_generation.get(model)) is not None:
            seconds = (1 + 2 * rounds) * gen.seconds
            if judge is not None and pair_key(judge) in speeds:
                seconds += 2 * speeds[pair_key(judge)].seconds
            speeds[answer_key(model)] = Speed(seconds, gen.n, rough=True)
    return speeds


def _label(key: WorkKey) -> str:
    kind, name = key
    return f"answers of {name}" if kind == ItemKind.ANSWER else f"pairs judged by {name}"


def estimate(
    units: Iterable[RunUnit], judge: str | None, speeds: dict[WorkKey, Speed]
) -> RunEstimate:
    """The size of a run (or of what is left of one) and its expected seconds."""
    counts: Counter[WorkKey] = Counter()
    questions: set[str] = set()
    for unit in units:
        questions.add(unit.key.question_id)
        is_answer = unit.key.kind == ItemKind.ANSWER
        counts[answer_key(unit.key.model) if is_answer else pair_key(judge)] += 1
    seconds, unmeasured, rough = None, [], []
    n_units = n_generations = 0
    for key, count in counts.items():
        speed = speeds.get(key)
        if speed is None:
            unmeasured.append(_label(key))
            continue
        seconds = (seconds or 0.0) + count * speed.seconds
        if speed.rough:
            rough.append(_label(key))
            n_generations += speed.n
        else:
            n_units += speed.n
    answers = sum(c for (kind, _), c in counts.items() if kind == ItemKind.ANSWER)
    return RunEstimate(
        questions=len(questions),
        answers=answers,
        pairs=sum(counts.values()) - answers,
        seconds=seconds,
        unmeasured=tuple(sorted(unmeasured)),
        rough=tuple(sorted(rough)),
        measured_units=n_units,
        measured_generations=n_generations,
    )
