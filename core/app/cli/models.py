"""`perfics models`, `perfics generate` and `perfics export`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from core.app import context, output_files
from core.app.cli.common import add_sampling_args, print_json, sampler_settings
from core.app.cli.inputs import add_text_argument, text_argument
from core.app.formatting import LEAVES_MACHINE
from core.app.generate import generate, schema_from_file
from core.engine.model_folder import printable
from core.engine.registry import as_row
from core.errors import PerficsError
from core.store import EXPORTABLE_TABLES, FORMATS


def cmd_models(args: argparse.Namespace) -> int:
    models = context.list_models()
    others = context.other_model_paths()
    if args.json:
        print_json(
            {
                "models": [as_row(m) for m in models],
                "other_files": [
                    {"name": o.name, "path": printable(str(o.path)), "reason": o.reason}
                    for o in others
                ],
            }
        )
        return 0
    if not models:
        cfg = context.settings()
        print(f"No .gguf files in {cfg.models_dir} and no endpoints in {cfg.endpoints_path}.")
    for m in models:
        if m.usable and m.endpoint is not None:
            where = f"  ({LEAVES_MACHINE})" if m.leaves_machine else ""
            urls = ", ".join(m.endpoint.urls)
            print(f"{m.name:40} endpoint: model {m.endpoint.model!r} at {urls}{where}")
        elif m.usable:
            chat = "chat" if m.has_chat_template else "no chat template"
            print(
                f"{m.name:40} {m.architecture or '?':10} {m.size_label or '?':6} "
                f"{m.quantization or '?':8} ctx {m.context_length or '?':>6}  {chat:17} "
                f"{m.file_size / 1e6:7.1f} MB  {(m.sha256 or '')[:12]}"
            )
        else:
            print(f"{m.name:40} UNUSABLE: {m.reason}")
    if others:
        print("\nOther files in the models folder (not models):")
        for other in others:
            print(f"  {other.name:38} {other.reason}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    settings = sampler_settings(args)
    schema = schema_from_file(args.schema) if args.schema else None
    prompt = text_argument(args, "prompt")  # read before a model loads: a bad file fails fast
    context.store().init(write=True)  # a locked or read-only database fails before loading
    backend = context.load_backend(args.model)
    stream = None if args.json else (lambda piece: print(piece, end="", flush=True))
    try:
        outcome = generate(backend, prompt, settings, stream, raw=args.raw, schema=schema)
    except PerficsError:
        if stream:
            print()  # end the streamed text's line before the error
        raise
    gen = outcome.generation
    if args.json:
        record = {"id": outcome.generation_id, **asdict(gen)}
        if schema is not None:
            record["value"] = outcome.value  # the output, parsed and validated
        print_json(record)
    else:
        print()
        print(
            f"[{gen.completion_tokens} tokens, {gen.gen_tokens_per_s or 0:.1f} tok/s, "
            f"ttft {gen.ttft_s:.2f} s, total {gen.total_s:.2f} s, "
            f"prompt {gen.prompt_tokens_evaluated}/{gen.prompt_tokens} evaluated, "
            f"peak RSS {gen.peak_rss_mb:.0f} MB, finish {gen.finish_reason}]",
            file=sys.stderr,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    rows = output_files.export_table(args.table, args.out, args.format, args.force)
    print(f"wrote {rows} rows of {args.table} to {printable(args.out)}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list GGUF models and endpoints, with their metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("generate", help="generate one answer and store it")
    p.add_argument("--model", required=True, help="file stem or a unique prefix of it")
    add_text_argument(p, "prompt", "the prompt (or --prompt-file)")
    add_sampling_args(p, max_tokens=256)
    p.add_argument("--stop", action="append", help="stop string; repeat for several")
    p.add_argument("--grammar", help="GBNF grammar the output must follow")
    p.add_argument(
        "--schema",
        metavar="FILE.json",
        help="JSON schema file: the output is forced to be JSON that validates against it",
    )
    p.add_argument("--raw", action="store_true", help="plain completion, no chat formatting")
    p.add_argument("--json", action="store_true", help="print one JSON record")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("export", help="export a table to parquet or csv")
    p.add_argument("table", choices=EXPORTABLE_TABLES)
    p.add_argument("--format", choices=FORMATS, default="parquet")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_export)
