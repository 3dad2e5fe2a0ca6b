"""`perfics endpoints list|add|remove|check`: the OpenAI-compatible servers in endpoints.toml."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from core.app import endpoints
from core.app.cli.common import EXIT_ERROR, print_json
from core.app.formatting import LEAVES_MACHINE
from core.errors import EndpointError


def _key_note(row: endpoints.EndpointRow) -> str:
    if row.api_key_env is None:
        return "no key"
    return f"key from ${row.api_key_env} ({'set' if row.key_set else 'NOT SET'})"


def format_row(row: endpoints.EndpointRow) -> str:
    where = f"  ** {LEAVES_MACHINE} **" if row.leaves_machine else ""
    lines = [
        f"{row.name}: model {row.model!r}, {row.max_concurrency} in flight per URL "
        f"({row.capacity} in all), timeout {row.timeout_s:g} s, {_key_note(row)}{where}"
    ]
    lines += [f"  {url}" for url in row.urls]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    found = endpoints.listing()
    rows = endpoints.rows(found)
    if args.json:
        print_json(
            {
                "file": str(endpoints.endpoints_path()),
                "endpoints": [asdict(r) for r in rows],
                "problems": [asdict(p) for p in found.problems],
            }
        )
        return 0
    if not rows and not found.problems:
        print(f"No endpoints in {endpoints.endpoints_path()}.")
    for row in rows:
        print(format_row(row))
    for problem in found.problems:
        print(f"{problem.label}: NOT USED: {problem.reason}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    config = endpoints.config_from_form(
        args.name,
        "\n".join(args.url),
        args.model,
        args.api_key_env or "",
        args.max_concurrency,
        args.timeout,
    )
    endpoints.add(config)
    print(f"added endpoint {config.name} to {endpoints.endpoints_path()}", file=sys.stderr)
    if config.leaves_machine:
        print(f"note: {config.name} is not on this machine: {LEAVES_MACHINE}", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    endpoints.remove(args.name)
    print(f"removed endpoint {args.name}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Each named endpoint (all when none is named) asked for its models; exits 1 when any
    did not answer."""
    names = args.names or [c.name for c in endpoints.listing().configs]
    if not names:
        print(f"No endpoints in {endpoints.endpoints_path()}.", file=sys.stderr)
        return 0
    results = []
    for name in names:
        try:
            results.append({"name": name, "ok": True, "server": endpoints.check(name)})
        except EndpointError as exc:
            results.append({"name": name, "ok": False, "error": str(exc)})
    if args.json:
        print_json(results)
    else:
        for r in results:
            outcome = r["server"] if r["ok"] else f"FAILED: {r['error']}"
            print(f"{r['name']}: {outcome}")
    return 0 if all(r["ok"] for r in results) else EXIT_ERROR


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "endpoints",
        help="list, add, remove and check OpenAI-compatible endpoints (endpoints.toml)",
        description="Endpoints are declared in endpoints.toml in the data folder (or "
        "PERFICS_ENDPOINTS_FILE). API keys are never stored: only the name of the environment "
        "variable that holds one.",
    )
    actions = p.add_subparsers(dest="action", required=True)

    a = actions.add_parser("list", help="the declared endpoints, and entries that are not valid")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_list)

    a = actions.add_parser("add", help="declare an endpoint")
    a.add_argument("name", help="how runs and the model list name it")
    a.add_argument(
        "--url",
        action="append",
        required=True,
        help="base URL up to and including /v1; repeat for replicas serving the same model",
    )
    a.add_argument("--model", required=True, help="the model id the server expects")
    a.add_argument("--api-key-env", help="NAME of the environment variable holding the key")
    a.add_argument("--max-concurrency", type=int, default=1, help="requests in flight per URL")
    a.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    a.set_defaults(func=cmd_add)

    a = actions.add_parser("remove", help="remove an endpoint from endpoints.toml")
    a.add_argument("name")
    a.set_defaults(func=cmd_remove)

    a = actions.add_parser("check", help="ask endpoints for their models (GET /models)")
    a.add_argument("names", nargs="*", help="endpoint names; all when none is given")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_check)
