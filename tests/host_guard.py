"""What the test suite must leave alone on the machine that runs it.

`snapshot()` records every entry under the host's hostmind directories (path, type, size, mode,
mtime); the session fixture in tests/conftest.py compares the snapshots taken before and after
the whole run and fails the run, naming each difference. Tests use tmp_path and the
HOSTMIND_*_DIR variables instead.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The host directories no test may write to (created, removed or changed).
GUARDED = (Path("/var/lib/hostmind"), Path("/etc/hostmind"), Path("/var/backups"))

#: Files Debian itself rewrites in /var/backups (dpkg-db-backup.timer, daily): not ours.
DEBIAN_BACKUP_PREFIXES = (
    "alternatives.tar", "apt.extended_states", "dpkg.arch", "dpkg.diversions",
    "dpkg.statoverride", "dpkg.status", "passwd.bak", "group.bak", "shadow.bak", "gshadow.bak",
)

#: Enough for any real host's hostmind state; a bigger tree is summarised by its count.
MAX_ENTRIES = 50_000

Entry = tuple[str, int, int, int]


def _describe(path: Path) -> Entry | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    kind = "dir" if path.is_dir() and not path.is_symlink() else "file"
    return kind, info.st_size if kind == "file" else 0, info.st_mode, info.st_mtime_ns


def _ignored(root: Path, path: Path) -> bool:
    return root == Path("/var/backups") and path.parent == root and path.name.startswith(
        DEBIAN_BACKUP_PREFIXES)


def snapshot(roots: tuple[Path, ...] = GUARDED) -> dict[str, Entry | None]:
    """Return {path: (type, size, mode, mtime_ns)} of every entry under `roots` (None: absent)."""
    found: dict[str, Entry | None] = {}
    for root in roots:
        entry = found[str(root)] = _describe(root)
        if entry is None or entry[0] != "dir":
            continue
        for directory, names, files in os.walk(root, onerror=lambda error: None):
            for name in [*names, *files]:
                path = Path(directory, name)
                if _ignored(root, path):
                    continue
                found[str(path)] = _describe(path)
                if len(found) > MAX_ENTRIES:
                    found["(too many entries)"] = ("file", len(found), 0, 0)
                    return found
    return found


def differences(before: dict[str, Entry | None], after: dict[str, Entry | None]) -> list[str]:
    """Return one line per path created, removed or changed between two snapshots."""
    lines: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            lines.append(f"created: {path}")
        elif new is None:
            lines.append(f"removed: {path}")
        else:
            lines.append(f"changed: {path} (type, size, mode, mtime {old} -> {new})")
    return lines
