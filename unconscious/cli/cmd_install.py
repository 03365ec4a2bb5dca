"""`hostmind install`, `uninstall`, `rearm`: the systemd side of hostmind's life."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes, uninstall_report
from unconscious.atomic import AtomicWriteError
from unconscious.cli import registry
from unconscious.cli.output import error, print_json
from unconscious.context import Context
from unconscious.install import (
    InstallError,
    Layout,
    NotPossibleHere,
    Report,
    install,
    rearm,
    uninstall,
)
from unconscious.journal import DEFAULT_SOCKET, JournalSender
from unconscious.live_tree import LiveTreeError, trusted_base
from unconscious.log import configure as configure_logging
from unconscious.paths import Paths
from unconscious.systemctl import Systemctl, SystemctlError, systemd_is_pid1
from unconscious.systemd_units import (
    RenderValues,
    UnitTemplateError,
    find_hostmind_executable,
    trusted_python,
)

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

SYSTEMCTL_HELP = "systemctl command to run (default: systemctl; for tests and images)"


def register(subparsers: Subparsers) -> None:
    """Add the install, uninstall and rearm subcommands to `subparsers`."""
    _register_install(subparsers)
    _register_uninstall(subparsers)
    _register_rearm(subparsers)


def _register_install(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "install",
        help="install the systemd units (and a config stub if there is no config)",
        description="Render hostmind's units with this machine's paths, write them to "
        "ROOT/etc/systemd/system/, create /etc/hostmind/hostmind.d/, write "
        "/etc/hostmind/hostmind.yaml only if absent, seed the live tree "
        "/var/lib/hostmind/live from this installed package if it does not exist (an "
        "existing one is kept: see `hostmind live diff`), record everything in "
        "/var/lib/hostmind/install-manifest.json and run systemctl daemon-reload. "
        "Exit 3 if PID 1 is not systemd (unless --root or --dry-run).",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="install into the tree at DIR (an image); no systemctl is run",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be done; change nothing"
    )
    parser.add_argument(
        "--now", action="store_true", help="also `systemctl enable --now hostmind.target`"
    )
    parser.add_argument(
        "--hostmind",
        type=Path,
        metavar="PATH",
        help="executable the units start (default: this hostmind)",
    )
    parser.add_argument("--systemctl", default="systemctl", metavar="CMD", help=SYSTEMCTL_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=install_command)


def _register_uninstall(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "uninstall", help="remove the units install recorded (state and config stay unless --purge)",
        description="Stop and remove exactly the units `hostmind install` recorded. Then list "
        "what is still on disk (config and state unless --purge, backups always, the program, "
        "drop-ins, credentials), each with the command that removes it.",
    )
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be done; change nothing"
    )
    parser.add_argument(
        "--purge",
        action="store_true",
        help="also delete /var/lib/hostmind, /etc/hostmind and /run/hostmind",
    )
    parser.add_argument("--systemctl", default="systemctl", metavar="CMD", help=SYSTEMCTL_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=uninstall_command)


def _register_rearm(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "rearm",
        help="re-arm the restart breaker: reset-failed on hostmind units, start them again",
        description="After a unit exhausted its start limit (StartLimitBurst=), systemd leaves it "
        "failed until a person looks. rearm resets every hostmind unit's failed state "
        "and start counter, lifts the self-modification pause, and starts "
        "hostmind.target. Logged to the journal (HOSTMIND_EVENT=rearm).",
    )
    parser.add_argument(
        "--no-start", action="store_true", help="reset only; do not start hostmind.target"
    )
    parser.add_argument("--systemctl", default="systemctl", metavar="CMD", help=SYSTEMCTL_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=rearm_command)


def _systemctl(args: argparse.Namespace) -> Systemctl:
    return Systemctl(command=tuple(str(args.systemctl).split()))


def _operator() -> str:
    return os.environ.get("SUDO_USER") or getpass.getuser()


def audit(event: str, message: str, **fields: str) -> None:
    """Record `event` in the journal when there is one (the terminal may not be the journal)."""
    if not DEFAULT_SOCKET.exists():
        return
    entry = {
        "MESSAGE": message,
        "PRIORITY": "5",
        "SYSLOG_IDENTIFIER": f"hostmind-{event}",
        "HOSTMIND_EVENT": event,
        "OPERATOR": _operator(),
    }
    entry.update({key.upper(): value for key, value in fields.items()})
    sender = JournalSender(DEFAULT_SOCKET)
    try:
        sender.send(entry)
    except OSError as problem:
        error(f"could not record {event} in the journal: {problem}")
    finally:
        sender.close()


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print_json(
            {"dry_run": report.dry_run, "actions": report.actions, "warnings": report.warnings}
        )
        return
    for line in report.actions:
        print(line)
    for line in report.warnings:
        error(f"warning: {line}")


def render_values(layout: Layout, hostmind: Path) -> RenderValues:
    """Return what the unit placeholders become: this install's interpreter and live tree."""
    state = Paths(config_dir=layout.config_dir, runtime_dir=layout.runtime_dir,
                  state_dir=layout.state_dir)
    return RenderValues(hostmind=hostmind, live_tree=Path(layout.outside(state.live_tree)),
                        python=trusted_python(hostmind))


def install_command(args: argparse.Namespace, context: Context) -> int:
    """Run `hostmind install`; return the exit code."""
    try:
        hostmind = args.hostmind.absolute() if args.hostmind else find_hostmind_executable()
        layout = Layout(args.root)
        values = render_values(layout, hostmind)
        report = install(
            layout,
            values,
            _systemctl(args),
            systemd_running=systemd_is_pid1(),
            dry_run=args.dry_run,
            now=args.now,
            trusted_base=trusted_base(),
        )
    except NotPossibleHere as problem:
        error(str(problem))
        return exitcodes.NOT_POSSIBLE_HERE
    except (InstallError, FileNotFoundError, UnitTemplateError, LiveTreeError) as problem:
        error(str(problem))
        return exitcodes.USAGE if isinstance(problem, InstallError) else exitcodes.FAILURE
    except (AtomicWriteError, SystemctlError, PermissionError) as problem:
        error(f"install failed: {problem}")
        return exitcodes.FAILURE
    _print_report(report, args.json)
    if not args.dry_run:
        audit(
            "install",
            f"hostmind installed into {args.root} ({len(report.actions)} actions)",
            root=str(args.root),
            now=str(args.now).lower(),
            hostmind=str(hostmind),
        )
    return exitcodes.OK


def uninstall_command(args: argparse.Namespace, context: Context) -> int:
    """Run `hostmind uninstall`; return the exit code."""
    # Read before --purge deletes the config that names them.
    backups = uninstall_report.backup_paths(context.paths) if args.root == Path("/") else None
    try:
        report = uninstall(
            Layout(args.root),
            _systemctl(args),
            systemd_running=systemd_is_pid1(),
            purge=args.purge,
            dry_run=args.dry_run,
        )
    except (InstallError, OSError, SystemctlError) as problem:
        error(f"uninstall failed: {problem}")
        return exitcodes.FAILURE
    left = uninstall_report.leftovers(args.root, purge=args.purge, backup_paths=backups)
    if args.json:
        print_json({"dry_run": report.dry_run, "actions": report.actions,
                    "warnings": report.warnings, "left": [item.to_json() for item in left]})
    else:
        _print_report(report, False)
        print("\n".join(uninstall_report.render(left)))
    if not args.dry_run:
        audit(
            "uninstall",
            f"hostmind uninstalled from {args.root}",
            root=str(args.root),
            purge=str(args.purge).lower(),
        )
    return exitcodes.OK


def rearm_command(args: argparse.Namespace, context: Context) -> int:
    """Run `hostmind rearm`; return the exit code (3 if PID 1 is not systemd)."""
    # Rearm hooks log; configured logging keeps that on stderr (or the journal), so stdout
    # stays pure for --json.
    configure_logging("rearm")
    if not systemd_is_pid1():
        error("PID 1 is not systemd here (no /run/systemd/system): there is no breaker to re-arm")
        return exitcodes.NOT_POSSIBLE_HERE
    try:
        hooks = [load() for load in registry.of(args).rearm_hooks]
        result = rearm(context.paths, _systemctl(args), start=not args.no_start, hooks=hooks)
    except SystemctlError as problem:
        error(f"rearm failed: {problem}")
        audit("rearm", f"rearm failed: {problem}", outcome="failed")
        return exitcodes.FAILURE
    failed = [state.name for state in result.failed]
    message = (
        f"rearmed {len(result.reset)} hostmind units; was failed: {', '.join(failed) or 'none'}; "
        f"breaker tripped: {', '.join(result.tripped) or 'none'}; "
        f"self-modification pause {'lifted' if result.pause_cleared else 'was not set'}"
    )
    audit(
        "rearm",
        message,
        outcome="ok",
        units=" ".join(result.reset),
        failed=" ".join(failed),
        tripped=" ".join(result.tripped),
        started=str(result.started).lower(),
        pause_cleared=str(result.pause_cleared).lower(),
    )
    if args.json:
        print_json(
            {
                "reset": result.reset,
                "failed": failed,
                "tripped": result.tripped,
                "started": result.started,
                "pause_cleared": result.pause_cleared,
                "hooks": result.hook_messages,
            }
        )
    else:
        print(message)
        for line in result.hook_messages:
            print(line)
        if result.started:
            print("started hostmind.target")
    return exitcodes.OK
