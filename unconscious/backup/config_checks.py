"""Backup config checks the schema cannot express (listed in unconscious/semantic_checks.py)."""

from __future__ import annotations

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator, mapping_at


def check(value: dict[str, object], locate: Locator) -> list[ConfigProblem]:
    """Return problems in the `backup:` section of the merged config `value`."""
    section = mapping_at(value, "backup")
    problems: list[ConfigProblem] = []

    def problem(path: tuple[str, ...], message: str, where: tuple[str, ...] | None = None) -> None:
        # `where`: the key that made this one wrong, when the key itself was never written.
        file, line = locate(("backup", *(where or path)))
        problems.append(ConfigProblem(file, line, ".".join(("backup", *path)), message))

    if section.get("engine") == "restic" and not mapping_at(section, "restic").get("repository"):
        problem(("restic", "repository"), "required when backup.engine is 'restic'", where=("engine",))
    level = section.get("compression_level", 3)
    if section.get("compression") == "gzip" and isinstance(level, int) and level > 9:
        problem(("compression_level",), f"{level} is above 9, gzip's highest level")
    for name, source in mapping_at(section, "sources").items():
        if not isinstance(source, dict):
            continue  # the schema check reports it
        if source.get("path") in ("/", "") and not source.get("exclude"):
            problem(("sources", name, "exclude"),
                    "backing up / needs exclusions (at least the destination, /proc, /sys, /dev)")
    return problems
