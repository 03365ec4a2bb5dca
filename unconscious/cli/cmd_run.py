"""`hostmind run SERVICE`: what each unit's ExecStart= calls; works in the foreground too."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli import registry
from unconscious.cli.output import error
from unconscious.context import Context

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

#: A static list: computing it would import every service's loader table; a test checks it
#: names every service the full `hostmind` command (hostmind.wiring.REGISTRY) can run.
SERVICES_HELP = ("one of: health, rotate, backup (the always-on services), conscious, apply, "
                 "rollback")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a service in the foreground (what the systemd units start)",
        description="Run a hostmind service. Outside systemd, sd_notify is a no-op and logs go "
        "to stderr; Ctrl-C stops it cleanly.",
    )
    parser.add_argument("service", help=SERVICES_HELP)
    parser.add_argument(
        "service_args",
        nargs=argparse.REMAINDER,
        help="arguments for the service (e.g. --unit NAME for rollback)",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace, context: Context) -> int:
    try:
        main = registry.of(args).load_service(args.service)
    except LookupError as problem:
        error(str(problem))
        return exitcodes.USAGE
    context.service_args = list(args.service_args)
    return main(context)
