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
#: The one option each service reads after its name (Context.service_args), with its value.
#: Every other argument is refused: `hostmind run rotate --dry-run` must not run a real
#: rotation, and `hostmind run rollback --unti X` must not roll back "(unknown unit)".
TAKES_ARGUMENTS = {"rollback": "--unit"}
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
        help="arguments for the service (only rollback takes one: --unit NAME)",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace, context: Context) -> int:
    try:
        main = registry.of(args).load_service(args.service)
    except LookupError as problem:
        error(str(problem))
        return exitcodes.USAGE
    extra = list(args.service_args)
    if "-h" in extra or "--help" in extra:
        _usage(args.service)
        return exitcodes.OK
    if not _arguments_accepted(args.service, extra):
        return exitcodes.USAGE
    context.service_args = extra
    return main(context)


def _usage(service: str) -> None:
    option = TAKES_ARGUMENTS.get(service)
    instead = f" For options, see `{INSTEAD[service]}`." if service in INSTEAD else ""
    print(f"usage: hostmind run {service}{f' [{option} VALUE]' if option else ''}\n\n"
          f"Run the {service} service in the foreground, as its systemd unit does. "
          f"{f'It takes {option} and nothing else.' if option else 'It takes no arguments.'}{instead}")


def _arguments_accepted(service: str, extra: list[str]) -> bool:
    """True when `extra` is nothing, or the service's one option with its value (`--unit X` or
    `--unit=X`); else say on stderr what was refused and where such options live."""
    option = TAKES_ARGUMENTS.get(service)
    if not extra or (option is not None and (
            (len(extra) == 2 and extra[0] == option and not extra[1].startswith("-"))
            or (len(extra) == 1 and extra[0].startswith(f"{option}=") and len(extra[0]) > len(option) + 1))):
        return True
    instead = f"; for options, see `{INSTEAD[service]}`" if service in INSTEAD else ""
    takes = f"takes only {option} VALUE" if option else "takes no arguments"
    error(f"`hostmind run {service}` {takes}, got: {' '.join(extra)}{instead}")
    return False
