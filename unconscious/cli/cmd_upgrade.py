"""`hostmind upgrade SOURCE`: install a new version the way this one is installed, restart in order."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.cmd_install import audit
from unconscious.cli.cmd_live import LOCK_WAIT, live_tree_of
from unconscious.cli.output import error, print_json
from unconscious.context import Context
from unconscious.live_tree import LiveTreeError, rails_lock
from unconscious.systemctl import systemd_is_pid1
from unconscious.systemd_units import find_hostmind_executable
from unconscious.upgrade import (
    UpgradeError,
    UpgradePlan,
    finish,
    install_code,
    install_mode,
    plan,
    run_bounded,
    stop_triggers,
)

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add `upgrade` to `subparsers`."""
    parser = subparsers.add_parser(
        "upgrade", help="install a new version (same install mode), restart the units in order",
        description="Install SOURCE (a checkout, or a wheel for a wheel install) the way hostmind "
        "is installed now (editable or wheel), reseed the live tree (only when it holds no "
        "committed changes, or with --reset-live; --keep-live keeps them), run the new "
        "`hostmind install` (units, daemon-reload, integrity manifest), restart "
        "hostmind-health, start hostmind.target and print `hostmind status`. Holds the rails' "
        "lock throughout. Exit 1 if a step fails (the step is named), 2 for a bad request.")
    parser.add_argument("source", type=Path, metavar="SOURCE",
                        help="a checkout (directory with setup.cfg) or a wheel file")
    live = parser.add_mutually_exclusive_group()
    live.add_argument("--reset-live", action="store_true",
                      help="discard the changes the rails committed to the live tree")
    live.add_argument("--keep-live", action="store_true",
                      help="keep a changed live tree over the new version")
    parser.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for pip, repeatable (e.g. --pip-arg=--no-index "
                        "--pip-arg=--find-links=/srv/wheels)")
    parser.add_argument("--systemctl", default="systemctl", metavar="CMD",
                        help="systemctl command to run (default: systemctl)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=upgrade_command)


def upgrade_command(args: argparse.Namespace, context: Context) -> int:
    """Run `hostmind upgrade`; return the exit code."""
    try:
        upgrade = plan(install_mode(), args.source, live_tree_of(context),
                       reset_live=args.reset_live, keep_live=args.keep_live)
    except UpgradeError as problem:
        error(str(problem))
        return exitcodes.USAGE
    if args.dry_run:
        _report(upgrade, args.json, dry_run=True)
        return exitcodes.OK
    systemctl = str(args.systemctl).split()
    systemd = systemd_is_pid1()
    try:
        hostmind = find_hostmind_executable()
        with rails_lock(context.paths.state_dir, LOCK_WAIT):
            if systemd:
                stop_triggers(upgrade, systemctl, run_bounded)
            install_code(upgrade, args.pip_arg, run_bounded)
            finish(upgrade, hostmind, systemctl, run_bounded, systemd)
    except (UpgradeError, LiveTreeError, OSError) as problem:
        _report(upgrade, args.json, dry_run=False)
        error(f"upgrade stopped: {problem}")
        audit("upgrade", f"upgrade from {upgrade.source} stopped: {problem}", outcome="failed")
        return exitcodes.FAILURE
    _report(upgrade, args.json, dry_run=False)
    audit("upgrade", f"hostmind upgraded from {upgrade.source} ({upgrade.mode.name}); live "
          f"tree: {upgrade.live_action}", outcome="ok", live=upgrade.live_action)
    if not args.json and systemd:
        status = run_bounded([str(hostmind), "status"], 120.0)
        print(status.stdout, end="")
    return exitcodes.OK


def _report(upgrade: UpgradePlan, as_json: bool, *, dry_run: bool) -> None:
    if as_json:
        print_json({"dry_run": dry_run, "mode": upgrade.mode.name, "source": str(upgrade.source),
                    "trusted_base": str(upgrade.mode.base), "live_tree": str(upgrade.live_tree),
                    "live": upgrade.live_action, "live_diff": upgrade.live_diff.to_json(),
                    "steps": upgrade.steps})
        return
    print(f"upgrade {upgrade.mode.name} install at {upgrade.mode.base} from {upgrade.source}; "
          f"live tree {upgrade.live_tree}: {upgrade.live_action}")
    for step in upgrade.steps:
        print(f"  {step}")
