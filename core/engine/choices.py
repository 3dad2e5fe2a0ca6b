"""The probability a model gives to each of a few fixed answers (ratings 1-10, verdicts A/B/tie),
as the grammar-constrained sampler would see it.

Each choice is tokenised the way the model itself writes it (prefix plus choice, e.g.
"Rating: 7"). The choices form a token trie below their common prefix. At every branching node
the model's next-token distribution is restricted to the tokens the grammar allows there (the
children, plus the end-of-generation tokens where a choice may end, as after "Rating: 1" which
could still become "10") and renormalised, exactly as the grammar sampler masks the rest. A
choice's probability is the product along its path. Nodes with a single continuation cost
nothing; the ratings need two evaluations, the verdicts one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

END = -1  # the trie edge "the answer ends here"

# Log-probabilities of the next token after a token sequence (the whole vocabulary).
NextLogProbs = Callable[[Sequence[int]], np.ndarray]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return shifted - np.log(np.sum(np.exp(shifted)))


def common_prefix(paths: Sequence[Sequence[int]]) -> int:
    n = 0
    for column in zip(*paths, strict=False):
        if len(set(column)) != 1:
            break
        n += 1
    return min(n, *(len(p) for p in paths))


def choice_probabilities(
    context: Sequence[int],
    paths: dict[str, Sequence[int]],
    next_log_probs: NextLogProbs,
    end_tokens: np.ndarray,
) -> dict[str, float]:
    """P(choice) for each choice, summing to 1. paths: each choice's tokens (prefix included);
    end_tokens: the ids of every end-of-generation token."""
    if len({tuple(p) for p in paths.values()}) != len(paths):
        raise ValueError("two choices tokenise to the same tokens")
    shared = common_prefix(list(paths.values()))
    probabilities: dict[str, float] = {}

    def walk(tokens: list[int], depth: int, members: dict[str, Sequence[int]], p: float) -> None:
        edges: dict[int, dict[str, Sequence[int]]] = {}
        for choice, path in members.items():
            edge = path[depth] if depth < len(path) else END
            edges.setdefault(edge, {})[choice] = path
        if len(edges) == 1:
            ((edge, group),) = edges.items()
            if edge == END:
                probabilities.update({choice: p for choice in group})
            else:
                walk([*tokens, edge], depth + 1, group, p)
            return
        log_probs = next_log_probs(tokens)
        weights = {
            edge: float(np.exp(np.logaddexp.reduce(log_probs[end_tokens])))
            if edge == END
            else float(np.exp(log_probs[edge]))
            for edge in edges
        }
        total = sum(weights.values())
        for edge, group in edges.items():
            share = weights[edge] / total if total > 0 else 1.0 / len(edges)
            if edge == END:
                probabilities.update({choice: p * share for choice in group})
            else:
                walk([*tokens, edge], depth + 1, group, p * share)

    first = next(iter(paths.values()))
    walk([*context, *first[:shared]], shared, paths, 1.0)
    return probabilities
