"""Checks the schema cannot express (dependency cycles, ...), run after schema validation.

Each feature's check is a function (merged config value, locator) -> list[ConfigProblem],
listed in CHECKS (every one is an unconscious module; the conscious layer has none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.yaml_source import KeyPath

Locator = Callable[[KeyPath], tuple[str, int | None]]
SemanticCheck = Callable[[dict[str, Any], Locator], list[ConfigProblem]]


def _checks() -> tuple[SemanticCheck, ...]:
    # Imported when a config is checked, not when this module is: each pulls in its feature.
    from unconscious.backup import config_checks as backup_checks
    from unconscious.health import config_checks as health_checks
    from unconscious.rotate import config_checks as rotate_checks

    return (health_checks.check, backup_checks.check, rotate_checks.check)


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Run every registered semantic check on the merged `value`; return all problems."""
    problems: list[ConfigProblem] = []
    for semantic_check in _checks():
        problems.extend(semantic_check(value, locate))
    return problems
