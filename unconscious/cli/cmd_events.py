"""`hostmind events`: list the event spool."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli.output import format_age, print_json
from unconscious.context import Context
from unconscious.events import STATES, EventSpool

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("events", help="list events in the spool (inbox, deferred, ...)")
    parser.add_argument(
        "--state",
        choices=STATES,
        action="append",
        help="only this state (repeatable); default: all but quarantine",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=events_command)


def events_command(args: argparse.Namespace, context: Context) -> int:
    spool = EventSpool(context.paths.events_dir)
    states = args.state or ["inbox", "deferred", "processed"]
    listing = {state: spool.read(state) for state in states}
    if args.json:
        print_json(
            {state: [event.to_json() for event in events] for state, events in listing.items()}
            | {"quarantined": spool.counts()["quarantine"]}
        )
        return exitcodes.OK
    now = time.time()
    for state, events in listing.items():
        print(f"{state}: {len(events)}")
        for event in events:
            print(
                f"  {format_age(now - event.time):>5} ago  {event.severity:<8} {event.source}/{event.kind}: "
                f"{event.summary}  [{event.id}]"
            )
    quarantined = spool.counts()["quarantine"]
    if quarantined:
        print(f"quarantine: {quarantined} unreadable event file(s) in {spool.directory('quarantine')}")
    return exitcodes.OK
