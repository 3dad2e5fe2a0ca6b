"""`perfics score`: teacher-forced log-probabilities of a given text after a context."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from core.app.cli.common import print_json
from core.app.cli.inputs import STDIN, add_text_argument, text_argument
from core.app.scoring import (
    corpus_perplexity,
    read_text,
    score_chat_reply,
    score_text,
    score_to_json,
)
from core.errors import InvalidRequest
from core.types import CorpusPerplexity, TextScore


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
    if args.context_file == STDIN and args.continuation_file == STDIN:
        raise InvalidRequest("Only one of --context-file and --continuation-file can be '-'.")
    context_text = text_argument(args, "context")
    continuation = text_argument(args, "continuation")
    scorer = score_chat_reply if args.chat else score_text
    score = scorer(args.model, context_text, continuation, args.top_k)
    if args.json:
        print_json(score_to_json(score))
    else:
        print(format_table(score))
    return 0


def format_perplexity(r: CorpusPerplexity) -> str:
    running = ",".join(f"[{i}]{p:.4f}" for i, p in enumerate(r.chunk_perplexities, start=1))
    speed = f", {r.tokens_per_second:.0f} tokens/s evaluated" if r.tokens_per_second else ""
    return (
        f"{running}\n{r.model_name}: PPL = {r.perplexity:.4f} +/- {r.uncertainty:.5f} over "
        f"{r.chunks} chunks of {r.n_ctx} tokens ({r.tokens_scored} tokens scored, the second "
        f"half of each; the text is {r.text_tokens} tokens); {r.seconds:.1f} s{speed}"
    )


def cmd_perplexity(args: argparse.Namespace) -> int:
    text = read_text(Path(args.file))

    def progress(done: int, total: int, running: float) -> None:
        if not args.quiet:
            print(f"chunk {done}/{total}: PPL so far {running:.4f}", file=sys.stderr)

    result = corpus_perplexity(args.model, text, args.ctx, progress)
    if args.json:
        print_json({**asdict(result), "tokens_per_second": result.tokens_per_second})
    else:
        print(format_perplexity(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "perplexity",
        help="a text's perplexity, computed as llama.cpp's llama-perplexity does",
        description="The text is cut into --ctx-token chunks (a shorter remainder is dropped); "
        "each chunk starts afresh with BOS where the model uses one, and its second half is "
        "scored. Same model, text and --ctx give llama-perplexity's figure.",
    )
    q.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    q.add_argument("--file", required=True, help="a UTF-8 text file")
    q.add_argument("--ctx", type=int, default=512, help="chunk size in tokens (default 512)")
    q.add_argument("--json", action="store_true", help="print one JSON record")
    q.add_argument("--quiet", action="store_true", help="no per-chunk progress on stderr")
    q.set_defaults(func=cmd_perplexity)

    p = sub.add_parser(
        "score",
        help="log-probability of each token of a text after a context (teacher forcing)",
        description="Context and continuation are tokenised separately, as "
        "lm-evaluation-harness does; only the continuation's tokens are scored.",
    )
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    add_text_argument(p, "context", "text before the scored part ('' allowed)")
    add_text_argument(p, "continuation", "the text to score")
    p.add_argument("--top-k", type=int, default=5, help="alternatives shown per token")
    p.add_argument(
        "--chat",
        action="store_true",
        help="--context is the user's message: score the continuation as the model's reply, "
        "after its chat template, as `perfics generate` and the dashboard's token view do",
    )
    p.add_argument("--json", action="store_true", help="print one JSON record")
    p.set_defaults(func=cmd_score)
