"""Entry point of the `hostmind` command: argparse subcommands, one module each.

Commands of the conscious layer come from the `hostmind.commands` entry points and are
imported only when one of them is the command being run (or help is asked for), so
`hostmind run health` never loads the conscious layer or the model SDK.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from unconscious import exitcodes
from unconscious.cli.output import error
from unconscious.context import Context
from unconscious.paths import Paths

#: Each built-in command module and the commands it registers. Only the wanted command's module
#: is imported: `hostmind run health` (a long-lived process) must not carry rotation's zstandard
#: or backup's sqlite3 because `hostmind rotate` and `hostmind backup` exist.
BUILTIN_COMMANDS: dict[str, tuple[str, ...]] = {
    "cmd_config": ("config",),
    "cmd_events": ("events",),
    "cmd_status": ("status",),
    "cmd_run": ("run",),
    "cmd_install": ("install", "uninstall", "rearm"),
    "cmd_check": ("check",),
    "cmd_rotate": ("rotate",),
    "cmd_backup": ("backup",),
    "cmd_live": ("live",),
    "cmd_upgrade": ("upgrade",),
}
PLUGIN_GROUP = "hostmind.commands"

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

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
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


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Return the parser; plugin commands are loaded only if `argv` needs them."""
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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _wanted_command(argv)
    _register_builtins(subparsers, wanted)
    if wanted in subparsers.choices:
        return parser  # a built-in command: no plugin is needed (nor importlib.metadata)
    from importlib.metadata import entry_points

    load_all = wanted is None or wanted == "help"
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name in subparsers.choices:
            continue
        if load_all or entry.name == wanted:
            try:
                register: Callable[[Any], None] = entry.load()
            except ImportError as problem:
                _unavailable(subparsers, entry.name, str(problem))
                continue
            register(subparsers)
        else:
            subparsers.add_parser(entry.name, help=f"(conscious layer) see `hostmind {entry.name} --help`")
    return parser


def _register_builtins(subparsers: Any, wanted: str | None) -> None:
    """Register the built-in commands: only the module of `wanted` when it is one of them."""
    modules = [name for name, commands in BUILTIN_COMMANDS.items() if wanted in commands]
    for module_name in modules or list(BUILTIN_COMMANDS):
        try:
            module = importlib.import_module(f"unconscious.cli.{module_name}")
        except ModuleNotFoundError as problem:
            if problem.name != f"unconscious.cli.{module_name}":
                raise
            continue  # a command whose feature is not installed in this build
        module.register(subparsers)


def _unavailable(subparsers: Any, name: str, reason: str) -> None:
    parser = subparsers.add_parser(name, help=f"(unavailable: {reason})")

    def explain(args: argparse.Namespace, context: Context) -> int:
        error(f"command {name!r} is not available in this installation: {reason}")
        return exitcodes.FAILURE

    parser.set_defaults(func=explain)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see EPILOG)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
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
