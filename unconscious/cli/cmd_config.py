"""`hostmind config validate|show|generate`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import yaml

from unconscious import exitcodes
from unconscious.cli.output import print_json
from unconscious.config import ConfigError, LoadedConfig
from unconscious.config.generate import generate_default_config
from unconscious.config.glob_checks import changed_meaning
from unconscious.config.writers import OPERATOR, Lookup, lookup_in, writer_of
from unconscious.config.yaml_source import KeyPath, format_key_path
from unconscious.context import Context
from unconscious.rotate.adopt import logrotate_warnings

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("config", help="validate, show or generate the configuration")
    config_commands = parser.add_subparsers(dest="config_command", required=True)
    validate = config_commands.add_parser(
        "validate", help="check every config file; print all problems with file:line; exit 78 if any"
    )
    validate.set_defaults(func=validate_command)
    show = config_commands.add_parser("show", help="print the merged configuration")
    show.add_argument("--origin", action="store_true",
                      help="show the file:line that set each value, and mark operator-only keys "
                      "[operator] (set only by the packaged defaults, /etc/hostmind and "
                      "/run/hostmind; a live-tree layer that sets one is ignored)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=show_command)
    generate = config_commands.add_parser(
        "generate", help="print the commented default config generated from the schema"
    )
    generate.set_defaults(func=generate_command)


def validate_command(args: argparse.Namespace, context: Context) -> int:
    try:
        config = context.load_config()
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) found; config NOT valid", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    _print_ignored(config)
    files = ", ".join(config.files) or "packaged defaults only"
    for warning in logrotate_warnings(config.section("rotate")):
        print(f"warning: {warning}", file=sys.stderr)
    for problem in changed_meaning(config.value, config.origin):
        print(f"warning: {problem}", file=sys.stderr)
    print(f"config valid ({files})")
    return exitcodes.OK


def _print_ignored(config: LoadedConfig) -> None:
    for problem in config.ignored:
        print(f"warning: {problem}", file=sys.stderr)


def show_command(args: argparse.Namespace, context: Context) -> int:
    try:
        config = context.load_config()
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    if args.json:
        if args.origin:
            lookup = lookup_in(config.value)
            print_json(
                {
                    format_key_path(path): {"file": file, "line": line,
                                            "writer": writer_of(path, None, None, lookup)}
                    for path, (file, line) in sorted(
                        config.origins.items(), key=lambda item: list(map(str, item[0]))
                    )
                    if path
                }
            )
        else:
            print_json(config.value)
        return exitcodes.OK
    if not args.origin:
        sys.stdout.write(yaml.safe_dump(config.value, sort_keys=False, default_flow_style=False))
        return exitcodes.OK
    _print_ignored(config)
    lookup = lookup_in(config.value)
    for line in _origin_lines(config.value, (), config.origins, lookup):
        print(line)
    return exitcodes.OK


def _origin_lines(value: object, path: KeyPath, origins: dict[KeyPath, tuple[str, int | None]],
                  lookup: Lookup) -> list[str]:
    lines: list[str] = []
    items: list[tuple[str | int, object]]
    if isinstance(value, dict) and value:
        items = list(value.items())
    elif isinstance(value, list) and value:
        items = list(enumerate(value))
    else:
        file, line = origins.get(path, ("?", None))
        where = f"{file}:{line}" if line else file
        rendered = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        mark = " [operator]" if writer_of(path, value, None, lookup) == OPERATOR else ""
        return [f"{format_key_path(path)} = {rendered}    # {where}{mark}"]
    for key, child in items:
        lines.extend(_origin_lines(child, (*path, key), origins, lookup))
    return lines


def generate_command(args: argparse.Namespace, context: Context) -> int:
    sys.stdout.write(generate_default_config())
    return exitcodes.OK
