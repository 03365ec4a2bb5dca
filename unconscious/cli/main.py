"""Entry point of the `hostmind` command: argparse subcommands, one module each.

What the command can run comes from a `Registry` (unconscious.cli.registry): this layer's own
table by default, or the full one the composition root `hostmind.wiring` passes in (with the
conscious layer's commands, services and status sections). Only the wanted command's module is
imported (every one when help is asked for), so `hostmind run health` never loads rotation's
zstandard, backup's sqlite3, the conscious layer or the model SDK.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes, semantic_checks
from unconscious.cli.output import error
from unconscious.cli.registry import UNCONSCIOUS, Registry
from unconscious.context import Context
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

EPILOG = """\
exit codes: 0 ok; 1 failure or needs attention; 2 usage error (check: critical);
3 not possible here (not root, PID 1 not systemd); 78 configuration error.
Environment: HOSTMIND_CONFIG_DIR, HOSTMIND_STATE_DIR, HOSTMIND_RUNTIME_DIR override the
/etc/hostmind, /var/lib/hostmind and /run/hostmind directories.
"""


def _package_version() -> str:
    # importlib.metadata (with email, zipfile, csv: ~2.7 MB) only when a command needs it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hostmind")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """--version: looks the version up only when asked (the metadata lookup costs memory)."""

    def __init__(self, option_strings: list[str], dest: str) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"hostmind {_package_version()}")
        parser.exit()


def _wanted_command(argv: Sequence[str]) -> str | None:
    # The first word that is not an option (or an option's value) is the command.
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
            continue
        if word == "--config-dir":
            skip_next = True
            continue
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] = (), registry: Registry = UNCONSCIOUS) -> argparse.ArgumentParser:
    """Return the parser with the commands `argv` needs: only the wanted one, or all of them."""
    parser = argparse.ArgumentParser(
        prog="hostmind",
        description="hostmind: a systemd-supervised host agent. The unconscious layer (health, "
        "rotate, backup) always runs; the conscious layer proposes one change at a "
        "time behind unconditional rails.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help="use DIR instead of /etc/hostmind (holds hostmind.yaml and hostmind.d/)",
    )
    parser.set_defaults(registry=registry)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _wanted_command(argv)
    names = [wanted] if wanted is not None and wanted in registry.commands else list(registry.commands)
    for name in names:
        if name in subparsers.choices:
            continue  # registered with another command of the same module
        try:
            register = registry.commands[name]()
        except ImportError as problem:
            _unavailable(subparsers, name, str(problem))
            continue
        register(subparsers)
    return parser


def _unavailable(subparsers: Subparsers, name: str, reason: str) -> None:
    parser = subparsers.add_parser(name, help=f"(unavailable: {reason})")

    def explain(args: argparse.Namespace, context: Context) -> int:
        error(f"command {name!r} is not available in this installation: {reason}")
        return exitcodes.FAILURE

    parser.set_defaults(func=explain)


def main(argv: Sequence[str] | None = None, registry: Registry = UNCONSCIOUS) -> int:
    """Run the command line with what `registry` holds; return the exit code (see EPILOG)."""
    semantic_checks.install()  # the config layer cannot import the features' checks itself
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments, registry)
    args = parser.parse_args(arguments)
    if args.command is None or not hasattr(args, "func"):
        parser.print_help()
        return exitcodes.USAGE
    context = Context(
        paths=Paths.from_environment(config_dir=args.config_dir),
        json_output=bool(getattr(args, "json", False)),
    )
    try:
        result: int = args.func(args, context)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
