"""`perfics refine`: one stored self-refinement, printed as it happens or as JSON."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from core.app import context
from core.app.cli.common import EXIT_ERROR, add_sampling_args, print_json, sampler_settings
from core.app.cli.inputs import add_text_argument, text_argument
from core.app.refine import refine
from core.evaluation.refine import DEFAULT_ROUNDS, MAX_ROUNDS, check_rounds
from core.types import RefineRequest, RefineResult, RefineStep


def _step_metrics(step: RefineStep) -> dict[str, Any]:
    g = step.generation
    return {
        "prompt_tokens": g.prompt_tokens,
        "prompt_tokens_evaluated": g.prompt_tokens_evaluated,
        "prompt_tokens_reused": g.prompt_tokens_reused,
        "prefix_tokens": step.prefix_tokens,
        "completion_tokens": g.completion_tokens,
        "ttft_s": g.ttft_s,
        "total_s": g.total_s,
        "gen_tokens_per_s": g.gen_tokens_per_s,
        "finish_reason": g.finish_reason,
    }


def refine_json(run_id: str, result: RefineResult, stop_early: bool) -> dict[str, Any]:
    rounds: dict[int, dict[str, Any]] = {}
    for step in result.steps[1:]:
        entry = rounds.setdefault(step.round, {"round": step.round, "metrics": {}})
        entry[step.kind] = step.text
        entry["metrics"][step.kind] = _step_metrics(step)
    return {
        "run_id": run_id,
        "prompt": result.prompt,
        "model": result.steps[0].generation.model_name,
        "baseline": result.baseline,
        "baseline_metrics": _step_metrics(result.steps[0]),
        "rounds": list(rounds.values()),
        "final": result.final,
        "stop_early": stop_early,
        "stop_reason": str(result.stop_reason),
        "templates": {k: {"id": t.id, "version": t.version} for k, t in result.templates.items()},
        "totals": asdict(result.totals()),
    }


def cmd_refine(args: argparse.Namespace) -> int:
    settings = sampler_settings(args)
    check_rounds(args.rounds)
    prompt = text_argument(args, "prompt")
    context.store().init(write=True)
    backend = context.load_backend(args.model)

    def progress(step: RefineStep) -> None:
        if args.json:
            return
        g = step.generation
        print(
            f"\n--- round {step.round} {step.kind} [{g.completion_tokens} tokens, "
            f"{g.total_s:.1f} s, prompt {g.prompt_tokens_reused}/{g.prompt_tokens} reused]\n"
            f"{step.text}",
            file=sys.stdout,
        )

    request = RefineRequest(prompt, args.rounds, settings, stop_early=args.stop_early)
    outcome = refine(backend, request, progress)
    if not outcome.ok:
        kept = f" (run {outcome.run_id} keeps its finished steps)" if outcome.run_id else ""
        print(f"error: {outcome.error}{kept}", file=sys.stderr)
        return EXIT_ERROR
    result = outcome.result
    if args.json:
        print_json(refine_json(outcome.run_id, result, args.stop_early))
    else:
        t = result.totals()
        print(
            f"\n[run {outcome.run_id}: stop reason {result.stop_reason}, "
            f"{result.rounds_done} round(s), {t.completion_tokens} tokens in {t.seconds:.1f} s, "
            f"prompt tokens evaluated {t.prompt_tokens_evaluated}/{t.prompt_tokens}]",
            file=sys.stderr,
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("refine", help="answer, self-critique and rewrite for N rounds")
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    add_text_argument(p, "prompt", "the prompt (or --prompt-file)")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"0-{MAX_ROUNDS}")
    p.add_argument(
        "--stop-early",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop once the critique finds nothing to fix or the rewrite stops changing "
        "(--no-stop-early: the paper's fixed rounds)",
    )
    add_sampling_args(p, max_tokens=384)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_refine)
