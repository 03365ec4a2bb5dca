"""`hostmind live diff|reset`: the live tree against the trusted base the operator installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.output import error, print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.live_tree import (
    LiveTreeError,
    diff,
    rails_lock,
    reset,
    trusted_base,
    unified_diff,
)
from unconscious.tree_diff import TreeDiff

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

#: How long a reset waits for an apply or rollback in progress.
LOCK_WAIT = 900.0


def register(subparsers: Subparsers) -> None:
    """Add `live diff` and `live reset` to `subparsers`."""
    parser = subparsers.add_parser(
        "live", help="show or reset the live tree (what the rails changed) against the trusted base",
        description="The trusted base is the package you installed; the live tree "
        "(/var/lib/hostmind/live, conscious.tree) is the copy the rails change and the always-on "
        "services run. `diff` shows how they differ (exit 1 if they do); `reset` makes the live "
        "tree a fresh copy of the trusted base again.")
    commands = parser.add_subparsers(dest="live_command", required=True)
    show = commands.add_parser("diff", help="show the difference (exit 0: none, 1: some)")
    show.add_argument("--stat", action="store_true", help="only the file names")
    show.add_argument("--json", action="store_true", help="print JSON (file names)")
    show.set_defaults(func=diff_command)
    again = commands.add_parser(
        "reset", help="replace the live tree with a fresh copy of the trusted base",
        description="Discards every change the rails committed to the live tree (see `hostmind "
        "live diff` first), re-records its integrity manifest and drops the ratchet baseline "
        "(the next apply takes a new one). Waits for an apply or rollback in progress. "
        "Restart hostmind-health afterwards to run the reset code.")
    again.add_argument("--yes", action="store_true",
                       help="discard committed changes (without it, a live tree that differs "
                       "is left alone and the difference is listed)")
    again.add_argument("--json", action="store_true", help="print JSON")
    again.set_defaults(func=reset_command)


def live_tree_of(context: Context) -> Path:
    """Return the live tree the config names (`conscious.tree`), else the default."""
    try:
        tree = context.load_config().live_tree
    except ConfigError:
        tree = None
    return tree or context.paths.live_tree


def _summary(found: TreeDiff) -> list[str]:
    return ([f"changed  {path}" for path in found.changed]
            + [f"added    {path}" for path in found.added]
            + [f"removed  {path}" for path in found.removed])


def diff_command(args: argparse.Namespace, context: Context) -> int:
    """Print how the live tree differs from the trusted base; exit 1 if it does."""
    base, live = trusted_base(), live_tree_of(context)
    if not live.is_dir():
        error(f"no live tree at {live} (`hostmind install` seeds it)")
        return exitcodes.FAILURE
    found = diff(base, live)
    if args.json:
        print_json({"trusted_base": str(base), "live_tree": str(live), **found.to_json()})
    elif args.stat:
        for line in _summary(found):
            print(line)
    else:
        for path in found.changed + found.added + found.removed:
            sys.stdout.write(unified_diff(base, live, path))
    if found.clean and not args.json:
        print(f"the live tree {live} is the trusted base {base}")
    return exitcodes.OK if found.clean else exitcodes.FAILURE


def reset_command(args: argparse.Namespace, context: Context) -> int:
    """Reset the live tree to the trusted base (only with --yes when it holds changes)."""
    base, live = trusted_base(), live_tree_of(context)
    found = diff(base, live) if live.is_dir() else TreeDiff()
    if not found.clean and not args.yes:
        for line in _summary(found):
            print(line)
        error(f"the live tree {live} holds {len(_summary(found))} change(s) the trusted base "
              "lacks (listed above); run `hostmind live reset --yes` to discard them")
        return exitcodes.USAGE
    try:
        with rails_lock(context.paths.state_dir, LOCK_WAIT):
            count = reset(base, live, context.paths.state_dir)
    except (LiveTreeError, OSError) as problem:
        error(f"live reset failed: {problem}")
        return exitcodes.FAILURE
    discarded = _summary(found)
    if args.json:
        print_json({"live_tree": str(live), "trusted_base": str(base), "files": count,
                    "discarded": discarded})
    else:
        print(f"reset {live} to the trusted base {base} ({count} files; "
              f"{len(discarded)} change(s) discarded); restart hostmind-health to run it")
    return exitcodes.OK
