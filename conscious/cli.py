"""The conscious layer's commands: think, budget, audit (the rails' apply, history and rollback
are in `conscious.rails.cli`).

The composition root `hostmind.wiring` lists each `register_*`; the CLI loads only the one
being run, so other commands never import the conscious layer.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.output import error, print_json
from unconscious.config import ConfigError
from unconscious.context import Context

if TYPE_CHECKING:
    from conscious.cli_types import Subparsers

# -- think --------------------------------------------------------------------------------------

def register_think(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "think", help="run one conscious cycle now (what hostmind-conscious.service does)",
        description="Take the pending events, ask the model for at most one change within the "
                    "budget and write it to the apply spool. --dry-run builds the (redacted) "
                    "request, saves it to {state}/conscious/last-dry-run-request.json and calls "
                    "nothing. Exit 0 when the cycle ended in a known state, 1 when a write "
                    "failed or the reply was unusable, 78 on a bad config.")
    parser.add_argument("--dry-run", action="store_true", help="build the request, do not send it")
    parser.add_argument("--check", action="store_true",
                        help="preflight only: is the credential there (plain or systemd-creds "
                             "encrypted), does the API accept the key, does the model exist "
                             "(one free count_tokens call, no retries); exit 0 when all is "
                             "fine, 1 naming host, HTTP status, API error type and message")
    parser.add_argument("--json", action="store_true", help="print the cycle result as JSON")
    parser.set_defaults(func=think_command)


def think_command(args: argparse.Namespace, context: Context) -> int:
    from conscious.service import run_once
    from unconscious.log import configure

    configure("conscious", target="console")
    if args.check:
        return check_command(args, context)
    code, result = run_once(context, dry_run=args.dry_run)
    if result is None:
        return code
    if args.json:
        print_json(result.to_json())
    else:
        print(f"{result.outcome}: {result.reason}")
        print(f"events {result.events} (processed {result.processed}, deferred {result.deferred})")
        if result.usage:
            print("tokens " + ", ".join(f"{key} {value}" for key, value in result.usage.items()))
        if result.proposal_path:
            print(f"proposal {result.proposal_id} written to {result.proposal_path}")
        if result.cuts:
            print("cut to fit the context limit: " + ", ".join(result.cuts))
    return code if result.ok else exitcodes.FAILURE


def check_command(args: argparse.Namespace, context: Context) -> int:
    """`hostmind think --check`: print each preflight line; exit 0 only when all is fine."""
    from conscious.preflight import run_preflight
    from conscious.settings import settings_from_typed
    from unconscious.atomic import AtomicWriteError

    try:
        config = context.load_config()
    except ConfigError as problem:
        error(str(problem))
        return exitcodes.CONFIG_ERROR
    settings = settings_from_typed(config.typed["conscious"])
    try:
        result = run_preflight(settings, context.paths)
    except AtomicWriteError as problem:
        error(f"the verdict could not be recorded: {problem}")
        return exitcodes.FAILURE
    if args.json:
        print_json({"ok": result.ok, "state": result.state, "lines": result.lines})
    else:
        print("\n".join(result.lines))
    return exitcodes.OK if result.ok else exitcodes.FAILURE


# -- budget -------------------------------------------------------------------------------------

def register_budget(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("budget", help="today's token use and changes, what is left, history")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=budget_command)


def budget_command(args: argparse.Namespace, context: Context) -> int:
    from conscious.budget import BudgetExhausted, BudgetLedger, ledger_path
    from conscious.settings import settings_from_typed

    try:
        settings = settings_from_typed(context.load_config().typed["conscious"])
    except ConfigError as problem:
        for item in problem.problems:
            error(str(item))
        return exitcodes.CONFIG_ERROR
    ledger = BudgetLedger(ledger_path(context.paths))
    try:
        today, history = ledger.today(), ledger.history()
    except BudgetExhausted as problem:
        error(str(problem))
        return exitcodes.FAILURE
    left = max(0, settings.daily_token_budget - today.tokens - today.reserved)
    data = {"today": today.to_json(), "token_budget": settings.daily_token_budget,
            "tokens_left": left, "change_cap": settings.daily_change_cap,
            "changes_left": max(0, settings.daily_change_cap - today.changes),
            "history": [day.to_json() for day in history], "ledger": str(ledger.path)}
    if args.json:
        print_json(data)
        return exitcodes.OK
    print(f"today ({today.day} UTC): {today.tokens} of {settings.daily_token_budget} tokens used"
          f"{f', {today.reserved} reserved' if today.reserved else ''}, {left} left; "
          f"{today.changes} of {settings.daily_change_cap} changes; {today.calls} model calls")
    if history:
        print("history:")
        for day in history[-14:]:
            print(f"  {day.day}  {day.tokens:>9} tokens  {day.calls:>3} calls  {day.changes:>2} changes")
    return exitcodes.OK


# -- audit --------------------------------------------------------------------------------------

def register_audit(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("audit", help="the hash-chained audit log")
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="recompute the chain; name the first broken record",
        description="Recompute the hash chain of the audit log and compare its end with the "
                    "newest anchor (the anchor file beside the log and, unless --no-journal, "
                    "the newest HOSTMIND_EVENT=audit_anchor entry in the journal). Exit 0 when "
                    "intact, 1 when broken or truncated.")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument("--no-journal", action="store_true", help="do not look for anchors in the journal")
    verify.set_defaults(func=audit_verify_command)
    show = actions.add_parser("show", help="print the last records")
    show.add_argument("-n", type=int, default=20, help="how many records (default 20)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=audit_show_command)

    def usage(args: argparse.Namespace, context: Context) -> int:
        parser.print_help()
        return exitcodes.USAGE

    parser.set_defaults(func=usage)


def audit_verify_command(args: argparse.Namespace, context: Context) -> int:
    from conscious.audit import AuditLog, audit_path, newest_anchor, read_journal_anchor

    log = AuditLog(audit_path(context.paths))
    journal = None if args.no_journal else read_journal_anchor(audit_file=str(log.path))
    chosen = newest_anchor(log.read_anchor_file(), journal)
    verdict = log.verify(anchor=chosen)
    if args.json:
        print_json(verdict.to_json() | {"file": str(log.path), "head": log.head(),
                                        "anchor": None if chosen is None else
                                        {"seq": chosen.seq, "head": chosen.head, "time": chosen.time}})
    elif verdict.ok:
        anchored = f", anchored at record {chosen.seq}" if chosen else ", no anchor yet"
        print(f"audit log {log.path}: intact, {verdict.records} records{anchored}")
    else:
        print(f"audit log {log.path}: BROKEN at record {verdict.first_bad_seq}: {verdict.reason}")
    return exitcodes.OK if verdict.ok else exitcodes.FAILURE


def audit_show_command(args: argparse.Namespace, context: Context) -> int:
    from conscious.audit import AuditLog, audit_path

    records = list(AuditLog(audit_path(context.paths)).records())[-max(0, args.n):]
    if args.json:
        print_json(records)
        return exitcodes.OK
    for record in records:
        # Records are read back for display, not trusted: a field of the wrong type shows as empty.
        stamp = record.get("time", 0)
        moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(
            float(stamp) if isinstance(stamp, int | float | str) else 0.0))
        fields = record.get("fields", {})
        shown = fields if isinstance(fields, dict) else {}
        detail = " ".join(f"{key}={value}" for key, value in shown.items()
                          if key in ("outcome", "id", "title", "reason", "tokens", "decision"))
        print(f"{record.get('seq'):>6}  {moment}  {record.get('kind'):<16} {detail}")
    return exitcodes.OK
