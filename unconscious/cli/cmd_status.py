"""`hostmind status`: one screen an operator can read at 3 AM.

Every section is always rendered. A config problem comes first, with every problem listed, and
the other sections are then read with the config minus the broken files (said on screen). The
last line says what needs attention and why, or "all good".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from unconscious import exitcodes
from unconscious.cli import registry
from unconscious.cli.output import print_json
from unconscious.config import ConfigError, LoadedConfig
from unconscious.context import Context
from unconscious.default_config import without_broken_files
from unconscious.status import Provider, StatusSection, providers

if TYPE_CHECKING:
    from unconscious.cli.registry import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "status",
        help="config, units, checks, evidence ages, events, backups, changes; exit 1 if anything "
        "needs attention",
        description="Show every section, config problems first, and end with one line saying "
        "what needs attention and why. Exit 0 all good, 1 something needs attention, 78 the "
        "config is invalid (the other sections are still shown, read without the broken files).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=status_command)


def config_section(context: Context) -> tuple[StatusSection, LoadedConfig]:
    """Return the `config` section and the config the other sections should read.

    Raise ConfigError only if even the packaged defaults cannot be loaded (a broken install).
    """
    made = StatusSection(title="config", order=0, data={"valid": True, "problems": []})
    try:
        config = context.load_config()
    except ConfigError as error:
        fallback = without_broken_files(context.paths)
        made.lines.append(f"INVALID: {len(error.problems)} problem(s); services refuse to start "
                          "or reload on it (see `hostmind config validate`)")
        made.lines.extend(f"  {problem}" for problem in error.problems)
        left_out = ("every config file" if fallback.defaults_only
                    else ", ".join(fallback.skipped))
        made.lines.append(f"the sections below are read without {left_out}")
        made.flag(f"config invalid ({len(error.problems)} problem(s))")
        made.data = {"valid": False, "problems": [str(problem) for problem in error.problems],
                     "read_without": fallback.skipped}
        return made, fallback.config
    made.lines.append(f"valid ({len(config.files)} file(s) over the packaged defaults)")
    made.data["files"] = config.files
    return made, config


def collect(context: Context, config: LoadedConfig,
            loaders: Mapping[str, Callable[[], Provider]]) -> list[StatusSection]:
    """Return the section of every provider in `loaders`; one that raises becomes a section saying so."""
    sections: list[StatusSection] = []
    for name, provider in providers(loaders):
        try:
            sections.append(provider(context, config))
        except Exception as error:  # noqa: BLE001 - one broken section must not hide the rest
            broken = StatusSection(title=name, lines=[f"unavailable: {error}"])
            broken.flag(f"{name} section unavailable")
            sections.append(broken)
    return sections


def summary_line(sections: list[StatusSection]) -> str:
    """Return the closing line: what needs attention and why, or "all good"."""
    reasons: list[str] = []
    for section in sections:
        if section.problem:
            reasons.extend(section.reasons or [f"{section.title}: see above"])
    if not reasons:
        return "all good"
    return "needs attention: " + "; ".join(reasons)


def status_command(args: argparse.Namespace, context: Context) -> int:
    """Print the status screen; return 0, 1 (attention) or 78 (config invalid)."""
    try:
        config_part, config = config_section(context)
    except ConfigError as error:
        print(f"the packaged defaults cannot be loaded (broken install): {error}", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    sections = [config_part, *collect(context, config, registry.of(args).status_sections)]
    sections.sort(key=lambda section: (section.order, section.title))
    attention = any(section.problem for section in sections)
    summary = summary_line(sections)
    if args.json:
        print_json({
            "attention": attention,
            "summary": summary,
            "sections": {section.title: {"problem": section.problem, "reasons": section.reasons,
                                         "data": section.data} for section in sections},
        })
    else:
        _print_sections(sections)
        print(summary)
    if not config_part.data["valid"]:
        return exitcodes.CONFIG_ERROR
    return exitcodes.FAILURE if attention else exitcodes.OK


def _print_sections(sections: list[StatusSection]) -> None:
    color = sys.stdout.isatty()
    for section in sections:
        mark = "!!" if section.problem else "  "
        title = f"\033[31m{section.title}\033[0m" if color and section.problem else section.title
        print(f"{mark} {title}")
        for line in section.lines:
            print(f"     {line}")
