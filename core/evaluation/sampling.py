"""A benchmark's question sample: K questions spread over the suite's categories.

Suites list their questions category by category, so the first K would often all come from
one category. Instead each category is shuffled with the seed and the categories take turns,
in the order the suite lists them, until K questions are chosen.
"""

from __future__ import annotations

import random

from core.types import Question


def balanced_sample(questions: list[Question], k: int, seed: int) -> list[Question]:
    """K questions drawn round-robin over the categories, in the suite's original order.

    A category with fewer questions than its share runs out and is skipped from then on; K
    larger than the suite gives every question."""
    by_category: dict[str, list[int]] = {}
    for index, question in enumerate(questions):
        by_category.setdefault(question.category, []).append(index)
    for category, indices in by_category.items():
        # Seeded per category, so dropping another category leaves this one's draw unchanged.
        random.Random(f"{seed}:{category}").shuffle(indices)
    chosen: set[int] = set()
    queues = list(by_category.values())
    while len(chosen) < k and queues:
        for queue in queues:
            if len(chosen) == k:
                break
            chosen.add(queue.pop(0))
        queues = [q for q in queues if q]
    return [q for index, q in enumerate(questions) if index in chosen]
