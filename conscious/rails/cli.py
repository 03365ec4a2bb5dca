"""The rails' commands: `hostmind apply PROPOSAL`, `hostmind history`, `hostmind rollback [ID]`.

`conscious.cli` delegates `register_apply`, `register_history` and `register_rollback` here.
Exit codes: 0 committed / dry run passed / rolled back on request; 1 refused or rolled back by
the gate, or a failure; 2 usage; 78 config error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conscious.rails import breaker, history
from conscious.rails.engine import Rails
from conscious.rails.history import ChangeRecord
from conscious.rails.lock import LockTimeout, recovered
from conscious.rails.operator import OperatorError, operator_rollback
from conscious.rails.proposal import ProposalError
from conscious.rails.service import process_file
from conscious.rails.settings import RailSettings
from unconscious import exitcodes
from unconscious.cli.output import error, print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.log import configure

if TYPE_CHECKING:
    from conscious.cli_types import Subparsers


def register_apply(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "apply", help="run one proposal file through the rails",
        description="Validate, stage, parse-check and test a proposal; unless --dry-run, "
        "snapshot, swap it in, restart under the health gate, and commit or roll back.")
    parser.add_argument("proposal", type=Path, help="the proposal JSON file (left in place)")
    parser.add_argument("--dry-run", action="store_true",
                        help="stop after the test ratchet; change nothing, record nothing")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(func=apply_command)


def register_history(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("history", help="list the changes the rails decided on")
    parser.add_argument("-n", "--limit", type=int, default=20, help="newest N (default 20)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.set_defaults(func=history_command)


def register_rollback(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "rollback", help="roll back a committed change (the newest if no ID)",
        description="Restore the snapshot of a committed change, restart its units and check "
        "they come back. Changes that touched the same files later must go first.")
    parser.add_argument("id", nargs="?", help="history key or proposal id")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(func=rollback_command)


def _rails(context: Context) -> Rails | None:
    try:
        config = context.load_config()
    except ConfigError as problem:
        for item in problem.problems:
            error(str(item))
        return None
    return Rails.create(context.paths, RailSettings.from_config(config, context.paths))


def _show(record: ChangeRecord, as_json: bool) -> None:
    if as_json:
        print_json(record.to_json())
        return
    print(f"{record.key}: {record.outcome.replace('_', ' ')}"
          + (f" at {record.rail}: {record.reason}" if record.reason else ""))


def apply_command(args: argparse.Namespace, context: Context) -> int:
    configure("apply", target="console")
    rails = _rails(context)
    if rails is None:
        return exitcodes.CONFIG_ERROR
    if not args.proposal.is_file():
        error(f"{args.proposal}: no such file")
        return exitcodes.USAGE
    try:
        if args.dry_run:
            record = process_file(rails, args.proposal, dry_run=True)
        else:
            with recovered(rails):
                breaker.check(rails.paths, rails.settings, rails.systemctl)
                record = process_file(rails, args.proposal, keep_original=True)
    except ProposalError as problem:
        error(str(problem))
        return exitcodes.FAILURE
    except (LockTimeout, OSError) as problem:
        error(str(problem))
        return exitcodes.FAILURE
    _show(record, args.json)
    return exitcodes.OK if record.outcome in (history.COMMITTED, "dry_run") else exitcodes.FAILURE


def history_command(args: argparse.Namespace, context: Context) -> int:
    records = history.list_changes(context.paths)[-max(args.limit, 0):] if args.limit else []
    if args.json:
        print_json([record.to_json() for record in records])
        return exitcodes.OK
    if not records:
        print("no changes yet")
    for record in reversed(records):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.time))
        reason = f" ({record.rail}: {record.reason})" if record.reason else ""
        print(f"{when}  {record.outcome:<12} {record.key}  {record.title}{reason}")
    return exitcodes.OK


def rollback_command(args: argparse.Namespace, context: Context) -> int:
    configure("rollback", target="console")
    rails = _rails(context)
    if rails is None:
        return exitcodes.CONFIG_ERROR
    try:
        with recovered(rails):
            record = operator_rollback(rails, args.id)
    except OperatorError as problem:
        error(str(problem))
        return exitcodes.FAILURE
    except (LockTimeout, OSError) as problem:
        error(str(problem))
        return exitcodes.FAILURE
    _show(record, args.json)
    return exitcodes.OK
