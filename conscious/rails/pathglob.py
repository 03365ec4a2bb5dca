"""The one glob semantics of hostmind: validate, the protected list and the context builder.

Patterns match relative POSIX paths, whole (anchored at both ends):
- `*` matches any run of characters inside one path segment (never `/`), `?` one such
  character; `**` matches any number of segments (`a/**/b.py` matches `a/b.py` and `a/x/y/b.py`;
  `a/**` everything under `a/`);
- every other character is literal (no `[...]` classes), and every character, newline and
  other control characters included, is matched like any other: a file name containing a
  newline cannot slip past a pattern (`**/conftest.py` matches `tests/a\\nb/conftest.py`);
- a pattern without `/` matches the file name at any depth, as in .gitignore (`*.key` matches
  `config/tls/x.key`; `setup.cfg` matches `setup.cfg` and `sub/setup.cfg`).

`fnmatch` lets `*` cross `/`, and `PurePath.match` matches from the right; neither is used.
"""

from __future__ import annotations

import functools
import re


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = [] if "/" in pattern else ["(?:.*/)?"]
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
    # DOTALL: `.` must match a newline too, or "a\nb/conftest.py" escapes "**/conftest.py".
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def glob_match(path: str, pattern: str) -> bool:
    """Return True when the relative POSIX `path` matches `pattern` (semantics above)."""
    return _compile(pattern).match(path) is not None


def first_match(path: str, patterns: tuple[str, ...] | list[str]) -> str | None:
    """Return the first of `patterns` that `path` matches, or None."""
    for pattern in patterns:
        if glob_match(path, pattern):
            return pattern
    return None
