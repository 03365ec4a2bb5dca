"""Glob patterns over relative POSIX paths, with `**` for any number of directories.

`fnmatch` lets `*` cross `/`, which would make `unconscious/*.py` match files in every
sub-package; here `*` stays inside one path segment and `**` spans segments.
"""

from __future__ import annotations

import functools
import re


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + r"\Z")


def glob_match(path: str, pattern: str) -> bool:
    """Return True when the relative POSIX `path` matches `pattern`."""
    return _compile(pattern).match(path) is not None


def first_match(path: str, patterns: tuple[str, ...] | list[str]) -> str | None:
    """Return the first of `patterns` that `path` matches, or None."""
    for pattern in patterns:
        if glob_match(path, pattern):
            return pattern
    return None
