"""The files of the live tree the model may see: listed by name, some with their contents.

A file is offered when it matches an `allowed_paths` glob, stays inside the tree after
resolving symlinks, and matches no `secret_paths` glob. Secret files are never opened here,
whatever the other globs say. Contents are read only for `context_files` matches that are
UTF-8 text within `max_file_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conscious.rails.pathglob import first_match
from conscious.settings import ConsciousSettings


@dataclass
class TreeFiles:
    """The allowed files (relative paths) and the contents put into the context."""

    tree: Path
    allowed: list[str] = field(default_factory=list)
    contents: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def matches(relative: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Return whether `relative` (posix) matches a glob, with `conscious.rails.pathglob`'s
    semantics (the same as validate and the protected list): `**` spans directories, a pattern
    without '/' matches the file name at any depth.
    """
    return first_match(relative, tuple(patterns)) is not None


def is_secret(relative: str, settings: ConsciousSettings) -> bool:
    """Return whether `relative` or any directory on its way matches a secret glob."""
    parts = relative.split("/")
    return any(matches("/".join(parts[: index + 1]), settings.secret_paths)
               for index in range(len(parts)))


def collect(settings: ConsciousSettings, implicated: list[str] | tuple[str, ...] = ()) -> TreeFiles:
    """Return the allowed files of the live tree and the contents of the context files.

    A file the rails protect (conscious.rails.protected) is never offered, whatever
    allowed_paths says. Contents are read for the `implicated` files (the events' check
    modules) and the `context_files` matches.
    """
    from conscious.rails.protected import protection_reason

    tree = settings.live_tree().resolve()
    found = TreeFiles(tree=tree)
    candidates: set[str] = set()
    for pattern in settings.allowed_paths:
        for path in tree.glob(pattern):
            if path.is_file():
                candidates.add(path.relative_to(tree).as_posix())
    for relative in sorted(candidates):
        if "__pycache__" in relative:
            continue
        if is_secret(relative, settings):
            found.skipped[relative] = "secret path: never read"
            continue
        if protection_reason(relative) is not None:
            continue  # the rails refuse every change to it: not offered, not listed
        if not (tree / relative).resolve().is_relative_to(tree):
            found.skipped[relative] = "symlink out of the tree"
            continue
        found.allowed.append(relative)
        if relative in implicated or matches(relative, settings.context_files):
            _read_into(found, relative, settings.max_file_bytes)
    return found


def _read_into(found: TreeFiles, relative: str, max_bytes: int) -> None:
    path = found.tree / relative
    try:
        size = path.stat().st_size
        if size > max_bytes:
            found.skipped[relative] = f"{size} bytes, over max_file_bytes"
            return
        found.contents[relative] = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        found.skipped[relative] = "not UTF-8 text"
    except OSError as error:
        found.skipped[relative] = f"unreadable: {error.strerror or error}"
