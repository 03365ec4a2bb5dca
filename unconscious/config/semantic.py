"""Checks the schema cannot express (dependency cycles, ...): their types, and where the
process's entry point hands them in.

Each feature's check is a function (merged config value, locator) -> list[ConfigProblem]. The
features sit above the config package, so it never imports them: an entry point above them
(`unconscious.semantic_checks`, installed by `hostmind` and `python -m unconscious.rotate`, and
the validation child's own entry point) calls `install` with a loader of the full list. A
process where nothing installed them (a library caller) has its config checked in the
validation child, whose entry point always installs them (config/validation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath

Locator = Callable[[KeyPath], tuple[str, int | None]]
#: The merged document is YAML the schema has accepted; each check narrows the part it reads.
SemanticCheck = Callable[[dict[str, object], Locator], list[ConfigProblem]]
#: Returns the checks; called when a config is checked, so their features load only then.
ChecksLoader = Callable[[], Sequence[SemanticCheck]]

_installed: list[ChecksLoader] = []


def install(loader: ChecksLoader) -> None:
    """Make `loader` this process's source of semantic checks (replacing any earlier one)."""
    _installed[:] = [loader]


def installed() -> ChecksLoader | None:
    """Return the installed loader, or None when this process's entry point installed none."""
    return _installed[0] if _installed else None


def check(value: dict[str, object], locate: Locator, checks: Sequence[SemanticCheck]) -> list[ConfigProblem]:
    """Run each of `checks` on the merged `value`; return all their problems."""
    problems: list[ConfigProblem] = []
    for semantic_check in checks:
        problems.extend(semantic_check(value, locate))
    return problems


def mapping_at(value: object, *path: str) -> dict[str, object]:
    """Return the mapping at `path` inside the merged config `value`; an empty one where a
    part is absent or not a mapping (the schema check reports a wrong type)."""
    node = value
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def texts(value: object) -> list[str]:
    """Return the text items of a list value (none when it is not a list; the schema reports it)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
