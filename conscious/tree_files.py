"""The files of the live tree the model may see: listed by name, some with their contents.

A file is offered when its name matches an `allowed_paths` glob (`unconscious.globs`,
the dialect the rails check a proposal's paths with), it is not a symlink (the rails refuse a
path through one), and it matches no `secret_paths` glob. Secret files are never opened here,
whatever the other globs say. Contents are read only for `context_files` matches that are
UTF-8 text within `max_file_bytes`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from conscious.settings import ConsciousSettings
from unconscious.globs import first_match


@dataclass
class TreeFiles:
    """The allowed files (relative paths) and the contents put into the context."""

    tree: Path
    allowed: list[str] = field(default_factory=list)
    contents: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def matches(relative: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Return whether `relative` (posix) matches a glob, with `unconscious.globs`'s
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
    for relative in _names_in(tree):
        if "__pycache__" in relative or not matches(relative, settings.allowed_paths):
            continue
        if is_secret(relative, settings):
            found.skipped[relative] = "secret path: never read"
            continue
        if protection_reason(relative) is not None:
            continue  # the rails refuse every change to it: not offered, not listed
        path = tree / relative
        if path.is_symlink():
            # The rails refuse a path through a symlink (name the real path), so it is not offered.
            inside = path.resolve().is_relative_to(tree)
            found.skipped[relative] = ("symlink: the rails take only the real path" if inside
                                       else "symlink out of the tree")
            continue
        found.allowed.append(relative)
        if relative in implicated or matches(relative, settings.context_files):
            _read_into(found, relative, settings.max_file_bytes)
    return found


def _names_in(tree: Path) -> list[str]:
    """Return the relative POSIX names of the files in `tree`, sorted, symlinks named not followed.

    One walk and `unconscious.globs` decide what is offered, not `Path.glob` (whose
    `*.py` matches only at the top, which follows `..` and symlinked directories, and which
    rejects `/etc/*` with an exception): the rails match the same names with the same globs.
    A symlink to a file is listed (and skipped by the caller); one to a directory is not entered.
    """
    names: list[str] = []
    for directory, _subdirectories, files in os.walk(tree):
        base = Path(directory).relative_to(tree)
        names.extend((base / name).as_posix() for name in files)
    return sorted(names)


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
