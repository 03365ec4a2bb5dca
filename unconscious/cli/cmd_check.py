"""`hostmind check [--json] [NAME...]`: run checks once in the foreground, Nagios style.

Same check code and worker pool as the service; no flap damping (one look). Exit codes:
0 all ok (or skipped), 1 a warning check failed or timed out, 2 a critical one did,
3 unknown check name, 78 configuration error.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.output import error, print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.health.engine import run_once
from unconscious.health.model import FAILING, TIMEOUT, CheckSpec, Result
from unconscious.health.specs import build_specs
from unconscious.health.workers import WorkerPool

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

WARNING_EXIT = 1
CRITICAL_EXIT = 2
UNKNOWN_EXIT = exitcodes.NOT_POSSIBLE_HERE


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run health checks once and exit 0/1/2 (ok/warning/critical)",
        description="Run the configured checks once (all, or the NAMEs given and what they depend on). "
        "Exit 0 ok, 1 warning, 2 critical, 3 unknown check name, 78 config error.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all enabled)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.set_defaults(func=check_command)


def exit_code(specs: dict[str, CheckSpec], results: dict[str, Result], names: list[str]) -> int:
    """Return 2 if a critical check among `names` failed or timed out, 1 for a warning one, else 0."""
    code = exitcodes.OK
    for name in names:
        result = results.get(name)
        if result is not None and result.state in (FAILING, TIMEOUT):
            code = max(code, CRITICAL_EXIT if specs[name].severity == "critical" else WARNING_EXIT)
    return code


def check_command(args: argparse.Namespace, context: Context) -> int:
    try:
        config = context.load_config()
    except ConfigError as problem:
        for item in problem.problems:
            error(str(item))
        return exitcodes.CONFIG_ERROR
    specs = build_specs(config, context.paths, since=time.time())
    unknown = [name for name in args.names if name not in specs]
    if unknown:
        error(f"unknown or disabled check(s): {', '.join(unknown)} (known: {', '.join(sorted(specs))})")
        return UNKNOWN_EXIT
    names = list(args.names) or sorted(specs)
    pool = WorkerPool(size=max(1, args.workers), max_hung=config.typed["health"]["max_hung"])
    try:
        results = run_once(specs, names, pool)
    finally:
        pool.close()
    code = exit_code(specs, results, names)
    if args.json:
        print_json(
            {
                "exit_code": code,
                "checks": {
                    name: {
                        "state": results[name].state,
                        "severity": specs[name].severity,
                        "kind": specs[name].kind,
                        "summary": results[name].summary,
                        "value": results[name].value,
                        "threshold": results[name].threshold,
                        "duration": round(results[name].duration, 6),
                    }
                    for name in names
                    if name in results
                },
            }
        )
        return code
    for name in names:
        result = results.get(name)
        if result is None:
            continue
        state = result.state.upper()
        print(f"{state:<8} {name:<20} {result.summary}")
    print({0: "OK", 1: "WARNING", 2: "CRITICAL"}[code])
    return code
