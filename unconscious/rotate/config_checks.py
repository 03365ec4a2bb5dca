"""Rotation config checks the schema cannot express.

Registered as the `rotate` entry of `hostmind.config_checks`. Each problem names file, line
and key path: relative log paths (they would depend on the working directory), a dateformat
that would put a '/' in a file name, options that do nothing in the chosen mode, minsize above
maxsize, and reopen commands that are not absolute or findable.
"""

from __future__ import annotations

from typing import Any

from unconscious.config.duration import parse_size
from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator
from unconscious.config.yaml_source import KeyPath, format_key_path


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Return problems in `rotate.rules` of the merged config `value`."""
    rules = (value.get("rotate") or {}).get("rules") or {}
    problems: list[ConfigProblem] = []

    def problem(path: KeyPath, message: str) -> None:
        key_path: KeyPath = ("rotate", "rules", *path)
        file, line = locate(key_path)
        problems.append(ConfigProblem(file, line, format_key_path(key_path), message))

    for name, rule in sorted(rules.items()):
        if not isinstance(rule, dict) or rule.get("enabled", True) is False:
            continue
        for index, pattern in enumerate(rule.get("paths") or []):
            if isinstance(pattern, str) and not pattern.startswith("/"):
                problem((name, "paths", index), f"{pattern!r} is not an absolute path")
        if "/" in str(rule.get("dateformat", "")):
            problem((name, "dateformat"), "must not contain '/': it becomes part of a file name")
        mode = rule.get("mode", "create")
        if mode == "create" and rule.get("pause_writers"):
            problem((name, "pause_writers"), "only used with mode: copytruncate")
        reopen = rule.get("reopen") or {}
        asks_reopen = any(reopen.get(key) for key in ("signal_unit", "reload_unit", "command"))
        if mode == "copytruncate" and asks_reopen:
            problem((name, "reopen"), "mode copytruncate never renames the log, so nothing reopens it; "
                                      "use mode: create with reopen, or drop reopen")
        if rule.get("delaycompress") and rule.get("compress") == "none":
            problem((name, "delaycompress"), "has no effect with compress: none")
        minsize, maxsize = rule.get("minsize"), rule.get("maxsize")
        if minsize is not None and maxsize is not None and parse_size(minsize) > parse_size(maxsize):
            problem((name, "minsize"), f"{minsize} is larger than maxsize {maxsize}")
    return problems
