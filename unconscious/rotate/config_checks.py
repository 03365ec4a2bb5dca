"""Rotation config checks the schema cannot express.

Listed in unconscious/semantic_checks.py. Each problem names file, line
and key path: relative log paths (they would depend on the working directory), a dateformat
that would put a '/' in a file name, options that do nothing in the chosen mode, minsize above
maxsize, and reopen commands that are not absolute or findable.
"""

from __future__ import annotations

from unconscious.config.duration import parse_size
from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath, format_key_path
from unconscious.config.semantic import Locator, mapping_at
from unconscious.globs import has_magic, matches, pattern_problem, reaches


def check(value: dict[str, object], locate: Locator) -> list[ConfigProblem]:
    """Return problems in `rotate.rules` of the merged config `value`."""
    rules = mapping_at(value, "rotate", "rules")
    problems: list[ConfigProblem] = []

    def problem(path: KeyPath, message: str) -> None:
        key_path: KeyPath = ("rotate", "rules", *path)
        file, line = locate(key_path)
        problems.append(ConfigProblem(file, line, format_key_path(key_path), message))

    for name, rule in sorted(rules.items()):
        if not isinstance(rule, dict) or rule.get("enabled", True) is False:
            continue
        for index, pattern in enumerate(rule.get("paths") or []):
            if isinstance(pattern, str) and (reason := pattern_problem(pattern)):
                problem((name, "paths", index), f"{pattern[:200]!r} {reason}")
            elif isinstance(pattern, str) and not pattern.startswith("/"):
                problem((name, "paths", index), f"{pattern!r} is not an absolute path")
            elif isinstance(pattern, str) and (reason := forbidden_path(pattern)):
                problem((name, "paths", index), reason)
        if "/" in str(rule.get("dateformat", "")):
            problem((name, "dateformat"), "must not contain '/': it becomes part of a file name")
        mode = rule.get("mode", "create")
        if mode == "create" and rule.get("pause_writers"):
            problem((name, "pause_writers"), "only used with mode: copytruncate")
        reopen = rule.get("reopen") or {}
        asks_reopen = any(reopen.get(key) for key in ("signal_unit", "reload_unit", "command"))
        if mode == "copytruncate" and asks_reopen:
            problem((name, "reopen"), "mode copytruncate never renames the log, so nothing reopens it; "
                                      "use mode: create with reopen, or drop reopen")
        if rule.get("delaycompress") and rule.get("compress") == "none":
            problem((name, "delaycompress"), "has no effect with compress: none")
        minsize, maxsize = rule.get("minsize"), rule.get("maxsize")
        if minsize is not None and maxsize is not None and parse_size(minsize) > parse_size(maxsize):
            problem((name, "minsize"), f"{minsize} is larger than maxsize {maxsize}")
    for name, index, other in overlaps(rules):
        problem((name, "paths", index), f"also matched by rule {other!r}: a log is rotated by one rule "
                                        f"only; narrow one of them or switch one off")
    return problems


# `paths` is a key the model may set: these trees are never logs, and rotating a file there
# (renaming /etc/passwd and creating it empty) would break the host or hostmind itself.
FORBIDDEN_TREES = ("/etc", "/usr", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                   "/sys", "/dev", "/root", "/var/lib/hostmind", "/var/backups", "/opt/hostmind")


def forbidden_path(pattern: str) -> str | None:
    """Return why `pattern` may not be a rule path, or None: a `..` component, the root, or a path
    under a system tree (a glob that could reach one counts as under it)."""
    parts = pattern.split("/")
    if ".." in parts:
        return f"{pattern!r} contains '..'"
    if has_magic(parts[1] if len(parts) > 1 else pattern) or pattern.rstrip("/") == "":
        return f"{pattern!r} is too wide: its first directory must be written out"
    for tree in FORBIDDEN_TREES:
        # `reaches`: the tree itself or anything below it; `**` spans directories, so
        # `/var/**/x.log` reaches /var/lib/hostmind.
        if reaches(pattern, tree):
            return f"{pattern!r} is under {tree}, which holds no logs hostmind may rotate"
    return None


def _patterns(rules: dict[str, object]) -> list[tuple[str, int, str]]:
    return [(name, index, pattern) for name, rule in sorted(rules.items())
            if isinstance(rule, dict) and rule.get("enabled", True) is not False
            for index, pattern in enumerate(rule.get("paths") or []) if isinstance(pattern, str)]


def covers(pattern: str, path: str) -> bool:
    """True if glob `pattern` matches the literal `path` (unconscious.globs: `*` never crosses a
    '/', `**` does); a pattern the dialect refuses covers nothing (it is reported on its own)."""
    return pattern_problem(pattern) is None and matches(path, pattern)


def overlaps(rules: dict[str, object]) -> list[tuple[str, int, str]]:
    """Return (rule, path index, other rule) for each path that another rule certainly matches too.

    Certain means from the text alone: the same pattern, or a literal path the other's glob
    covers. Two globs that happen to match the same file today are reported by the run itself
    (the first rule by name rotates it), never here: the config must not turn invalid because a
    file appeared.
    """
    entries = _patterns(rules)
    found: list[tuple[str, int, str]] = []
    for name, index, pattern in entries:
        for other, _other_index, other_pattern in entries:
            if other == name:
                continue
            literal = not has_magic(pattern)
            if pattern == other_pattern or (literal and covers(other_pattern, pattern)):
                found.append((name, index, other))
                break
    return found
