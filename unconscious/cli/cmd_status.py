"""`hostmind status`: one screen an operator can read at 3 AM."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from unconscious import exitcodes
from unconscious.cli.output import print_json
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.status import StatusSection, providers


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="units, checks, evidence ages, events; exit 1 if anything needs attention"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=status_command)


def status_command(args: argparse.Namespace, context: Context) -> int:
    try:
        config = context.load_config()
    except ConfigError as error:
        print("config: INVALID", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    sections: list[StatusSection] = []
    for name, provider in providers():
        try:
            sections.append(provider(context, config))
        except Exception as error:  # noqa: BLE001 - one broken section must not hide the rest
            sections.append(StatusSection(title=name, lines=[f"unavailable: {error}"], problem=True))
    sections.sort(key=lambda section: (section.order, section.title))
    attention = any(section.problem for section in sections)
    if args.json:
        print_json(
            {
                "attention": attention,
                "sections": {
                    section.title: {"problem": section.problem, "data": section.data} for section in sections
                },
            }
        )
    else:
        color = sys.stdout.isatty()
        for section in sections:
            mark = "!!" if section.problem else "  "
            title = f"\033[31m{section.title}\033[0m" if color and section.problem else section.title
            print(f"{mark} {title}")
            for line in section.lines:
                print(f"     {line}")
        print("needs attention" if attention else "all good")
    return exitcodes.FAILURE if attention else exitcodes.OK
