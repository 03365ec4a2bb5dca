"""Health config checks the schema cannot express (filled in with the checks themselves)."""

from __future__ import annotations

from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator


def check(value: dict[str, Any], locate: Locator) -> list[ConfigProblem]:
    """Return problems in the health section of the merged config `value`."""
    return []
