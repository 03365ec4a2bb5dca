"""Backup config checks the schema cannot express (listed in unconscious/semantic_checks.py)."""

from __future__ import annotations

from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Return problems in the `backup:` section of the merged config `value`."""
    section = value.get("backup") or {}
    problems: list[ConfigProblem] = []

    def problem(path: tuple[str, ...], message: str, where: tuple[str, ...] | None = None) -> None:
        # `where`: the key that made this one wrong, when the key itself was never written.
        file, line = locate(("backup", *(where or path)))
        problems.append(ConfigProblem(file, line, ".".join(("backup", *path)), message))

    restic = section.get("restic") or {}
    if section.get("engine") == "restic" and not restic.get("repository"):
        problem(("restic", "repository"), "required when backup.engine is 'restic'", where=("engine",))
    if section.get("compression") == "gzip" and int(section.get("compression_level", 3)) > 9:
        level = section.get("compression_level")
        problem(("compression_level",), f"{level} is above 9, gzip's highest level")
    for name, source in (section.get("sources") or {}).items():
        if source.get("path") in ("/", "") and not source.get("exclude"):
            problem(("sources", name, "exclude"),
                    "backing up / needs exclusions (at least the destination, /proc, /sys, /dev)")
    return problems
