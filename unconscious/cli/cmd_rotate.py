"""`hostmind rotate [--dry-run] [--force] [--json]`: one rotation pass by hand, same code as the unit."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from unconscious.cli.output import print_json
from unconscious.context import Context
from unconscious.log import configure
from unconscious.rotate.service import execute


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rotate", help="rotate logs now (what hostmind-rotate.service runs); exit 1 if anything failed")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would rotate and why; change nothing (no recovery either)")
    parser.add_argument("--force", action="store_true",
                        help="rotate every non-empty matched log now, whatever its size or age")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=rotate_command)


def rotate_command(args: argparse.Namespace, context: Context) -> int:
    configure("rotate", target="manual")
    outcome = execute(context, dry_run=args.dry_run, force=args.force)
    report = outcome.report
    if args.json:
        print_json({
            "exit_code": outcome.code, "summary": outcome.message, "examined": report.examined,
            "planned": report.planned, "rotated": [asdict(item) for item in report.rotated],
            "compressed": [asdict(item) for item in report.compressed], "pruned": report.pruned,
            "recovered": report.recovered, "errors": report.errors, "warnings": report.warnings,
            "journal_freed_bytes": outcome.vacuum_freed,
        })
        return outcome.code
    for item in report.planned:
        print(f"would rotate {item['file']} -> {item['archive']} ({item['mode']}; {item['reason']})")
    for done in report.rotated:
        ratio = done.bytes_in / done.bytes_out if done.bytes_out else 0.0
        print(f"rotated {done.source} -> {done.archive}: {done.bytes_in} -> {done.bytes_out} bytes "
              f"(x{ratio:.1f}) in {done.seconds:.2f}s")
    for line in report.recovered:
        print(f"recovered: {line}")
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    for line in report.errors:
        print(f"error: {line}", file=sys.stderr)
    print(outcome.message)
    return outcome.code
