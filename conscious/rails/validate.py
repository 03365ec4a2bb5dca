"""Rail 1, validate: is this proposal something the rails may even try?

Given a parsed Proposal, the live tree and the settings, return the list of FileChanges (the
bytes of every touched file before and after). Raise Refused naming the path and the reason
for: too many files, absolute paths, `..`, paths that resolve (through symlinks) outside the
tree, protected paths, paths outside `conscious.allowed_paths`, non-text or oversized content,
an `old` that occurs zero or several times, a create over an existing file, and a restart of
the rails' own units. Nothing is written.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from conscious.rails.change import FileChange, Refused
from conscious.rails.operator_keys import check_operator_keys
from conscious.rails.path_rules import path_problem
from conscious.rails.proposal import Proposal
from conscious.rails.protected import protection_reason
from conscious.rails.settings import RailSettings
from unconscious.globs import first_match

RAIL = "validate"

#: The rails must not restart themselves mid-change.
FORBIDDEN_RESTARTS = ("hostmind-apply.service",)
FORBIDDEN_RESTART_PREFIXES = ("hostmind-rollback@",)

# Control characters that do not occur in source or config text; their presence means binary.
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f]")


def validate(proposal: Proposal, settings: RailSettings) -> list[FileChange]:
    """Check `proposal` against the live tree; return its FileChanges. Raise Refused."""
    _check_restarts(proposal)
    touched = proposal.paths
    if len(touched) > settings.max_files:
        raise Refused(RAIL, f"touches {len(touched)} files; at most {settings.max_files} allowed")
    tree = settings.live_tree.resolve()
    current: dict[str, bytes | None] = {}
    modes: dict[str, int] = {}
    for path in touched:
        target = _checked_target(path, tree, settings)
        current[path], modes[path] = _read_existing(path, target, settings.max_bytes)
    created = {create.path for create in proposal.creates}
    edited = {edit.path for edit in proposal.edits}
    both = sorted(created & edited)
    if both:
        raise Refused(RAIL, f"{both[0]}: both edited and created in one proposal")
    after: dict[str, bytes] = {}
    for index, edit in enumerate(proposal.edits):
        before = after.get(edit.path, current[edit.path])
        if before is None:
            raise Refused(RAIL, f"edits[{index}]: {edit.path} does not exist (use creates)")
        after[edit.path] = _apply_edit(index, edit.path, before, edit.old, edit.new)
    for index, create in enumerate(proposal.creates):
        if current[create.path] is not None:
            raise Refused(RAIL, f"creates[{index}]: {create.path} already exists; "
                                "change it with an edit")
        if create.path in after:
            raise Refused(RAIL, f"creates[{index}]: {create.path} is created twice")
        data = _encode(create.path, create.content)
        if len(data) > settings.max_bytes:
            raise Refused(RAIL, f"creates[{index}]: {create.path}: {len(data)} bytes, more than "
                                f"the {settings.max_bytes} allowed (apply.max_bytes)")
        _check_text(create.path, create.content)
        after[create.path] = data
    changes: list[FileChange] = []
    for path in touched:
        data = after[path]
        if len(data) > settings.max_bytes:
            raise Refused(RAIL, f"{path}: would be {len(data)} bytes, more than the "
                                f"{settings.max_bytes} allowed (apply.max_bytes)")
        changes.append(FileChange(path, current[path], data, modes.get(path, 0o644)))
    check_operator_keys(changes)
    return changes


def _check_restarts(proposal: Proposal) -> None:
    for unit in proposal.restart:
        if unit in FORBIDDEN_RESTARTS or unit.startswith(FORBIDDEN_RESTART_PREFIXES):
            raise Refused(RAIL, f"restart: {unit} is one of the rails' own units")


def _checked_target(path: str, tree: Path, settings: RailSettings) -> Path:
    """Return the absolute target of the relative `path`. Raise Refused if it is not safe."""
    if "\\" in path:
        raise Refused(RAIL, f"{path}: backslashes are not allowed in paths")
    problem = path_problem(path)
    if problem is not None:
        raise Refused(RAIL, f"{path!r}: {problem}")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise Refused(RAIL, f"{path}: absolute paths are not allowed; paths are relative to "
                            "the live tree")
    if ".." in pure.parts:
        raise Refused(RAIL, f"{path}: '..' is not allowed in paths")
    normal = pure.as_posix()
    if normal != path or path.endswith("/") or "//" in path or "." in path.split("/"):
        raise Refused(RAIL, f"{path}: not a normalised relative path (expected {normal!r})")
    reason = protection_reason(normal)
    if reason is not None:
        raise Refused(RAIL, f"{path}: {reason}")
    target = tree / normal
    # Resolve symlinks in every existing component: the real file must be inside the tree.
    resolved = target.resolve()
    if resolved != tree and tree not in resolved.parents:
        raise Refused(RAIL, f"{path}: resolves to {resolved}, outside the live tree {tree}")
    real = resolved.relative_to(tree).as_posix()
    if real != normal:
        raise Refused(RAIL, f"{path}: goes through a symlink (to {real}); name the real path")
    if first_match(normal, settings.allowed_paths) is None:
        allowed = ", ".join(settings.allowed_paths) or "nothing"
        raise Refused(RAIL, f"{path}: not allowed by conscious.allowed_paths ({allowed})")
    return target


def _read_existing(path: str, target: Path, max_bytes: int) -> tuple[bytes | None, int]:
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None, 0o644
    except OSError as error:
        raise Refused(RAIL, f"{path}: cannot be read: {error.strerror}") from error
    if not stat.S_ISREG(info.st_mode):
        raise Refused(RAIL, f"{path}: not a regular file")
    if info.st_size > max_bytes:
        raise Refused(RAIL, f"{path}: is {info.st_size} bytes, more than the {max_bytes} "
                            "allowed (apply.max_bytes)")
    data = target.read_bytes()
    try:
        _check_text(path, data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Refused(RAIL, f"{path}: is not UTF-8 text ({error.reason})") from error
    return data, stat.S_IMODE(info.st_mode)


def _check_text(path: str, text: str) -> None:
    found = _BINARY_CONTROLS.search(text)
    if found is not None:
        raise Refused(RAIL, f"{path}: binary content (control character {found.group()!r} at "
                            f"offset {found.start()}); only text is allowed")


def _encode(path: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise Refused(RAIL, f"{path}: not encodable as UTF-8 ({error.reason})") from error


def _apply_edit(index: int, path: str, before: bytes, old: str, new: str) -> bytes:
    text = before.decode("utf-8")
    count = text.count(old)
    if count == 0:
        raise Refused(RAIL, f"edits[{index}]: {path}: the old text does not occur in the file")
    if count > 1:
        raise Refused(RAIL, f"edits[{index}]: {path}: the old text occurs {count} times; "
                            "it must occur exactly once")
    _check_text(path, new)
    return _encode(path, text.replace(old, new, 1))
