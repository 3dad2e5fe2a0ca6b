"""The probability a model gives to each of a few fixed answers (ratings 1-10, verdicts A/B/tie),
as the grammar-constrained sampler would see it.

Each choice is tokenised the way the model itself writes it (prefix plus choice, e.g.
"Rating: 7"). The choices form a token trie below their common prefix. At every branching node
the model's next-token distribution is restricted to the tokens the grammar allows there (the
children, plus the end-of-generation tokens where a choice may end, as after "Rating: 1" which
could still become "10") and renormalised, exactly as the grammar sampler masks the rest. A
choice's probability is the product along its path. Nodes with a single continuation cost
nothing; the ratings need two evaluations, the verdicts one.

The greedy choice follows the same canonical tokens. A grammar-constrained sampler left to
itself may spell the prefix in odd pieces (Gemma 3 270M wrote "Rating" as R+ati+ng in 5 of
6 judge calls), and a small model's next digit then drifts from the one it gives after its own
spelling; judging from the trie keeps the verdict and its probabilities about one reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.types import ChoiceScores

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


def score_choices(
    context: Sequence[int],
    paths: dict[str, Sequence[int]],
    next_log_probs: NextLogProbs,
    end_tokens: np.ndarray,
) -> ChoiceScores:
    """P(choice) for each choice, summing to 1, and the greedy choice: the one a
    temperature-0 sampler reaches by taking the likeliest allowed edge at every branching node.
    paths: each choice's tokens (prefix included); end_tokens: every end-of-generation id."""
    if len({tuple(p) for p in paths.values()}) != len(paths):
        raise ValueError("two choices tokenise to the same tokens")
    shared = common_prefix(list(paths.values()))
    probabilities: dict[str, float] = {}
    greedy: list[str] = []

    def walk(
        tokens: list[int], depth: int, members: dict[str, Sequence[int]], p: float, best: bool
    ) -> None:
        edges: dict[int, dict[str, Sequence[int]]] = {}
        for choice, path in members.items():
            edge = path[depth] if depth < len(path) else END
            edges.setdefault(edge, {})[choice] = path
        if len(edges) == 1:
            weights = {next(iter(edges)): 1.0}
        else:
            log_probs = next_log_probs(tokens)
            raw = {
                edge: float(np.exp(np.logaddexp.reduce(log_probs[end_tokens])))
                if edge == END
                else float(np.exp(log_probs[edge]))
                for edge in edges
            }
            total = sum(raw.values())
            weights = {e: w / total if total > 0 else 1.0 / len(edges) for e, w in raw.items()}
        likeliest = max(weights, key=weights.get)
        for edge, group in edges.items():
            on_greedy_path = best and edge == likeliest
            if edge == END:
                probabilities.update({choice: p * weights[edge] for choice in group})
                if on_greedy_path:
                    greedy.extend(group)
            else:
                walk([*tokens, edge], depth + 1, group, p * weights[edge], on_greedy_path)

    first = next(iter(paths.values()))
    walk([*context, *first[:shared]], shared, paths, 1.0, True)
    return ChoiceScores(probabilities=probabilities, greedy=greedy[0])
