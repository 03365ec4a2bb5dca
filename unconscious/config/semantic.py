"""Checks the schema cannot express (e.g. dependency cycles), run after schema validation.

A feature adds its check to CHECKS: a function (config value, locator) -> problems.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.yaml_source import KeyPath

Locator = Callable[[KeyPath], tuple[str, int | None]]
SemanticCheck = Callable[[dict[str, Any], Locator], list[ConfigProblem]]

CHECKS: list[SemanticCheck] = []


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Run every registered semantic check on the merged `value`; return all problems."""
    problems: list[ConfigProblem] = []
    for semantic_check in CHECKS:
        problems.extend(semantic_check(value, locate))
    return problems
