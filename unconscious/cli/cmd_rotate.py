"""`hostmind rotate [--dry-run] [--force] [--json]`: one rotation pass by hand, same code as the unit.

`hostmind rotate import` prints logrotate's configuration as a hostmind drop-in, with a report
of what it cannot honour; `hostmind rotate adopt` takes logrotate.d files over (see
unconscious/rotate/adopt.py and docs/rotate.md, "Moving from logrotate").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.atomic import atomic_write_text
from unconscious.cli.output import print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.log import configure
from unconscious.printable import printable
from unconscious.rotate.adopt import DEFAULT_CONF, adopt, import_config, render
from unconscious.rotate.service import execute

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers

ADOPT_DROPIN = "40-logrotate-adopted.yaml"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "rotate", help="rotate logs now (what hostmind-rotate.service runs); exit 1 if anything failed",
        description="Rotate logs now, or read logrotate's configuration (import, adopt).")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would rotate and why; change nothing (no recovery either)")
    parser.add_argument("--force", action="store_true",
                        help="rotate every non-empty matched log now, whatever its size or age")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=rotate_command)
    commands = parser.add_subparsers(dest="rotate_command", required=False)
    importer = commands.add_parser(
        "import", help="translate logrotate.conf and its includes into a hostmind drop-in",
        description="Print (or --output) a drop-in with one rule per logrotate block; every directive "
                    "that cannot be honoured is reported on stderr with file:line and why. Changes nothing.")
    importer.add_argument("--config", type=Path, default=DEFAULT_CONF,
                          help="logrotate's main file (%(default)s)")
    importer.add_argument("--output", type=Path,
                          help="write the drop-in atomically to this file instead of stdout")
    importer.add_argument("--json", action="store_true", help="print rules and report as JSON")
    importer.set_defaults(func=import_command)
    adopter = commands.add_parser(
        "adopt", help="take logrotate.d files over: write their rules, then rename each to FILE.disabled",
        description="Writes /etc/hostmind/hostmind.d/" + ADOPT_DROPIN + " with the rules of every "
                    "logrotate.d file that translates completely, validates the config, then renames "
                    "those files to FILE.disabled (logrotate skips that extension). Everything else stays "
                    "with logrotate. Prints the commands that undo it.")
    adopter.add_argument("--config", type=Path, default=DEFAULT_CONF,
                         help="logrotate's main file (%(default)s)")
    adopter.add_argument("--dry-run", action="store_true", help="say what would be adopted; change nothing")
    adopter.set_defaults(func=adopt_command)


def import_command(args: argparse.Namespace, context: Context) -> int:
    result = import_config(args.config)
    if args.json:
        print_json({"files": result.parsed.files, "report": result.report, "adoptable": result.adoptable,
                    "rules": {item.name: {"from": item.source, "rule": item.rule, "notes": item.notes}
                              for item in result.translated}})
        return exitcodes.OK
    text = render(result)
    if args.output is not None:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}: {sum(item.rule is not None for item in result.translated)} rules",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    for line in result.report:
        print(f"not honoured: {line}", file=sys.stderr)
    print(f"{len(result.translated)} logrotate blocks in {len(result.parsed.files)} files read; "
          f"{len(result.report)} notes", file=sys.stderr)
    return exitcodes.OK


def adopt_command(args: argparse.Namespace, context: Context) -> int:
    result = import_config(args.config)
    for line in result.report:
        print(f"not honoured: {line}", file=sys.stderr)
    if args.dry_run:
        for name in result.adoptable:
            print(f"would adopt {name} (renamed to {name}.disabled)")
        return exitcodes.OK
    try:
        done = adopt(result, context.paths.dropin_dir / ADOPT_DROPIN, context.load_config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("the translated rules do not validate; nothing adopted", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    except OSError as error:
        print(f"adopt failed: {error}", file=sys.stderr)
        return exitcodes.FAILURE
    for old, new in done.renamed:
        print(f"adopted {old} (now {new}, which logrotate skips)")
    for name in done.left:
        print(f"left with logrotate: {name}")
    print(f"rules written to {done.dropin}; `hostmind rotate --dry-run` shows what they would do")
    print("to go back: " + "; ".join(done.way_back()))
    return exitcodes.OK


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
    # Every line through printable(): a log's name is chosen by whoever may write its directory,
    # and a newline or an escape sequence in it must not forge or hide a line of this report.
    for item in report.planned:
        print(printable(f"would rotate {item['file']} -> {item['archive']} ({item['mode']}; "
                        f"{item['reason']})"))
    for done in report.rotated:
        ratio = done.bytes_in / done.bytes_out if done.bytes_out else 0.0
        print(printable(f"rotated {done.source} -> {done.archive}: {done.bytes_in} -> {done.bytes_out} bytes "
                        f"(x{ratio:.1f}) in {done.seconds:.2f}s"))
    for line in report.recovered:
        print(printable(f"recovered: {line}"))
    for line in report.warnings:
        print(printable(f"warning: {line}"), file=sys.stderr)
    for line in report.errors:
        print(printable(f"error: {line}"), file=sys.stderr)
    print(printable(outcome.message))
    return outcome.code
