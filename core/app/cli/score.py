"""`perfics score`: teacher-forced log-probabilities of a given text after a context."""

from __future__ import annotations

import argparse

from core.app.cli.common import print_json
from core.app.scoring import score_text, score_to_json
from core.types import TextScore


def _shown(text: str) -> str:
    # repr keeps leading spaces and newlines visible; the quotes are dropped to save width.
    return repr(text)[1:-1]


def format_table(score: TextScore) -> str:
    lines = [f"{'token':>16}  {'logprob':>8}  {'prob':>6}  {'rank':>6}  {'entropy':>7}  top"]
    for t in score.tokens:
        top = "  ".join(f"{_shown(a.text)!s}:{a.prob:.3f}" for a in t.top)
        lines.append(
            f"{_shown(t.text)[:16]:>16}  {t.logprob:8.3f}  {t.prob:6.3f}  {t.rank:6d}  "
            f"{t.entropy:7.3f}  {top}"
        )
    lines.append(
        f"{score.model_name}: {score.n_tokens} tokens, {score.n_bytes} bytes "
        f"(after {score.context_tokens} context tokens); cross-entropy "
        f"{score.cross_entropy:.4f} nats/token, perplexity {score.perplexity:.3f}, "
        f"{score.bits_per_byte:.4f} bits/byte; {score.seconds:.2f} s"
    )
    return "\n".join(lines)


def cmd_score(args: argparse.Namespace) -> int:
    score = score_text(args.model, args.context, args.continuation, args.top_k)
    if args.json:
        print_json(score_to_json(score))
    else:
        print(format_table(score))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="log-probability of each token of a text after a context (teacher forcing)",
        description="Context and continuation are tokenised separately, as "
        "lm-evaluation-harness does; only the continuation's tokens are scored.",
    )
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    p.add_argument("--context", required=True, help="text before the scored part ('' allowed)")
    p.add_argument("--continuation", required=True, help="the text to score")
    p.add_argument("--top-k", type=int, default=5, help="alternatives shown per token")
    p.add_argument("--json", action="store_true", help="print one JSON record")
    p.set_defaults(func=cmd_score)
