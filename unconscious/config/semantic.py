"""Checks the schema cannot express (dependency cycles, ...), run after schema validation.

A feature contributes a check through the `hostmind.config_checks` entry points: a function
(merged config value, locator) -> list[ConfigProblem]. Entry points keep this package free of
imports of the conscious layer, whose checks are registered the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.yaml_source import KeyPath

Locator = Callable[[KeyPath], tuple[str, int | None]]
SemanticCheck = Callable[[dict[str, Any], Locator], list[ConfigProblem]]
GROUP = "hostmind.config_checks"


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Run every registered semantic check on the merged `value`; return all problems."""
    problems: list[ConfigProblem] = []
    for entry in entry_points(group=GROUP):
        semantic_check: SemanticCheck = entry.load()
        problems.extend(semantic_check(value, locate))
    return problems
