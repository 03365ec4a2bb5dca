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
#: The services that read arguments after their name (Context.service_args). Every other one
#: refuses them: `hostmind run rotate --dry-run` must not run a real rotation.
TAKES_ARGUMENTS = frozenset({"rollback"})
#: Where the options an operator may have meant live instead.
INSTEAD = {"rotate": "hostmind rotate --dry-run | --force", "backup": "hostmind backup run | list | verify",
           "health": "hostmind check"}


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
    extra = list(args.service_args)
    if extra and args.service not in TAKES_ARGUMENTS:
        return _refuse_arguments(args.service, extra)
    try:
        main = registry.of(args).load_service(args.service)
    except LookupError as problem:
        error(str(problem))
        return exitcodes.USAGE
    context.service_args = list(args.service_args)
    return main(context)


def _refuse_arguments(service: str, extra: list[str]) -> int:
    """Answer `hostmind run SERVICE ARGS...` for a service that takes none: its usage for
    -h/--help (exit 0), else an error naming the arguments and where such options live (exit 2)."""
    instead = f"; for options, see `{INSTEAD[service]}`" if service in INSTEAD else ""
    if extra[0] in ("-h", "--help"):
        print(f"usage: hostmind run {service}\n\nRun the {service} service in the foreground, as its "
              f"systemd unit does. It takes no arguments{instead}.")
        return exitcodes.OK
    error(f"`hostmind run {service}` takes no arguments, got: {' '.join(extra)}{instead}")
    return exitcodes.USAGE
