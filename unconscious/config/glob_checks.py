"""The config's globs: refused patterns are problems, patterns whose meaning changed are warnings.

Every glob key is matched with `unconscious.globs` (one dialect). `check` (a semantic check,
listed in unconscious/semantic_checks.py) reports a pattern the dialect refuses (empty, NUL,
line break, over-long) in `conscious.allowed_paths`, `context_files`, `secret_paths`,
`apply.unit_paths` and backup `include`/`exclude`; rotation `paths` are checked with the rest
of a rule in unconscious/rotate/config_checks.py. `changed_meaning` lists, for `hostmind config validate`, the
patterns that matched other paths before the one dialect (README "Upgrading"):
- backup include/exclude were fnmatch patterns, whose `*` and `?` crossed '/': a pattern with a
  '/' and a wildcard may now select other files (`logs/*.gz` no longer takes `logs/old/a.gz`);
  `[^...]` was a class of '^' and the rest, it now negates;
- conscious globs and `apply.unit_paths` took `[` literally: `[...]` is now a character class;
- rotation paths went through glob.glob, where `**` was a plain `*`: it now spans directories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from unconscious.config.errors import ConfigProblem
from unconscious.config.semantic import Locator, mapping_at, texts
from unconscious.config.yaml_source import KeyPath, format_key_path
from unconscious.globs import has_magic, pattern_problem

CONSCIOUS_GLOB_KEYS = ("allowed_paths", "context_files", "secret_paths")
BACKUP_GLOB_KEYS = ("include", "exclude")


def conscious_globs(value: dict[str, object]) -> Iterator[tuple[KeyPath, str]]:
    """Yield (key path of the item, pattern) of every conscious glob."""
    section = mapping_at(value, "conscious")
    for key in CONSCIOUS_GLOB_KEYS:
        for index, pattern in enumerate(texts(section.get(key))):
            yield ("conscious", key, index), pattern


def apply_globs(value: dict[str, object]) -> Iterator[tuple[KeyPath, str]]:
    """Yield (key path of the item, pattern) of every `apply.unit_paths` glob (read by the rails)."""
    for unit, patterns in sorted(mapping_at(value, "apply", "unit_paths").items()):
        for index, pattern in enumerate(texts(patterns)):
            yield ("apply", "unit_paths", unit, index), pattern


def backup_globs(value: dict[str, object]) -> Iterator[tuple[KeyPath, str]]:
    """Yield (key path of the item, pattern) of every backup source's include and exclude."""
    for name, source in sorted(mapping_at(value, "backup", "sources").items()):
        for key in BACKUP_GLOB_KEYS:
            for index, pattern in enumerate(texts(mapping_at(source).get(key))):
                yield ("backup", "sources", name, key, index), pattern


def rotation_globs(value: dict[str, object]) -> Iterator[tuple[KeyPath, str]]:
    """Yield (key path of the item, pattern) of every rotation rule's paths."""
    for name, rule in sorted(mapping_at(value, "rotate", "rules").items()):
        for index, pattern in enumerate(texts(mapping_at(rule).get("paths"))):
            yield ("rotate", "rules", name, "paths", index), pattern


def _problem(locate: Locator, path: KeyPath, message: str) -> ConfigProblem:
    file, line = locate(path)
    return ConfigProblem(file, line, format_key_path(path), message)


def check(value: dict[str, object], locate: Locator) -> list[ConfigProblem]:
    """Return a problem for each conscious or backup glob the dialect refuses."""
    problems: list[ConfigProblem] = []
    for path, pattern in [*conscious_globs(value), *apply_globs(value), *backup_globs(value)]:
        reason = pattern_problem(pattern)
        if reason is not None:
            problems.append(_problem(locate, path, f"glob {pattern[:200]!r} {reason}"))
    return problems


def _backup_change(pattern: str) -> str | None:
    if "[^" in pattern:
        return "'[^...]' now negates the class (fnmatch read '^' as a member)"
    if "/" in pattern.strip("/") and has_magic(pattern):
        return ("'*' and '?' no longer match '/' (one glob dialect, as restic's excludes): this "
                "pattern may select other files than before; use '**' to span directories")
    return None


def _conscious_change(pattern: str) -> str | None:
    opening = pattern.find("[")
    if opening >= 0 and "]" in pattern[opening + 1:]:
        return "'[...]' is now a character class (it was literal); write '[[]' for a literal '['"
    return None


def _rotation_change(pattern: str) -> str | None:
    if "**" in pattern.split("/"):
        return "'**' now spans directories (glob.glob read it as '*')"
    return None


def changed_meaning(value: dict[str, object], locate: Locator) -> list[ConfigProblem]:
    """Return a warning for each glob that may match other paths than before the one dialect."""
    sources: list[tuple[Iterator[tuple[KeyPath, str]], Callable[[str], str | None]]] = [
        (conscious_globs(value), _conscious_change), (apply_globs(value), _conscious_change),
        (backup_globs(value), _backup_change),
        (rotation_globs(value), _rotation_change)]
    warnings: list[ConfigProblem] = []
    for globs, change in sources:
        for path, pattern in globs:
            message = change(pattern) if pattern_problem(pattern) is None else None
            if message is not None:
                warnings.append(_problem(locate, path, f"glob {pattern!r}: {message}"))
    return warnings
