"""Rail 5, snapshot: the current version of every file a change touches, kept read-only.

`{state}/history/<key>/files/<path>` holds the bytes before the change (mode 0444) and
`manifest.json` lists, per file, whether it existed, its mode and the SHA-256 before and after.
`restore` puts the before-state back and verifies it; `tree_state` says whether the live tree
holds the old or the new version, or a mix. `prune` keeps the newest `keep` snapshots and never
the one that is the only way back to the last good state.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from conscious.rails.change import FileChange
from conscious.rails.history import change_dir
from unconscious.atomic import atomic_write, atomic_write_json, fsync_directory, sha256_file
from unconscious.paths import Paths

MANIFEST_NAME = "manifest.json"
FILES_NAME = "files"


class SnapshotError(OSError):
    """A snapshot could not be written, read or restored; the message says which file."""


@dataclass(frozen=True)
class SnapshotEntry:
    """One file of a snapshot."""

    path: str
    existed: bool
    mode: int
    sha256_before: str | None
    sha256_after: str

    def to_json(self) -> dict[str, str | bool | int | None]:
        return {"path": self.path, "existed": self.existed, "mode": self.mode,
                "sha256_before": self.sha256_before, "sha256_after": self.sha256_after}


def take(paths: Paths, key: str, changes: Sequence[FileChange]) -> list[SnapshotEntry]:
    """Write the before-state of `changes` under the history of `key`; return the manifest.

    Raise SnapshotError if any of it did not land (then nothing may be swapped).
    """
    directory = change_dir(paths, key)
    files = directory / FILES_NAME
    entries: list[SnapshotEntry] = []
    try:
        for change in changes:
            if change.before is not None:
                target = files / change.path
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, change.before, mode=0o444)
            entries.append(SnapshotEntry(change.path, change.before is not None, change.mode,
                                         change.sha256_before, change.sha256_after))
        atomic_write_json(directory / MANIFEST_NAME,
                          {"key": key, "files": [entry.to_json() for entry in entries]},
                          mode=0o444)
    except OSError as error:
        raise SnapshotError(error.errno or 0, f"snapshot of {key} failed: {error}") from error
    return entries


def read(paths: Paths, key: str) -> list[SnapshotEntry]:
    """Return the manifest of `key`. Raise SnapshotError if it is missing or unreadable."""
    path = change_dir(paths, key) / MANIFEST_NAME
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return [SnapshotEntry(str(item["path"]), bool(item["existed"]), int(item["mode"]),
                              item["sha256_before"], str(item["sha256_after"]))
                for item in value["files"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SnapshotError(0, f"snapshot manifest {path} is unreadable: {error}") from error


def exists(paths: Paths, key: str) -> bool:
    return (change_dir(paths, key) / MANIFEST_NAME).exists()


def _current_hash(target: Path) -> str | None:
    try:
        return sha256_file(target)
    except FileNotFoundError:
        return None


def tree_state(live_tree: Path, entries: Sequence[SnapshotEntry]) -> str:
    """Return "old", "new" or "mixed": which version of the snapshot's files the tree holds."""
    old = new = True
    for entry in entries:
        current = _current_hash(live_tree / entry.path)
        old = old and current == entry.sha256_before
        new = new and current == entry.sha256_after
    if old:
        return "old"
    return "new" if new else "mixed"


def restore(paths: Paths, key: str, live_tree: Path,
            after_each: Callable[[str], None] | None = None) -> list[str]:
    """Put the before-state of `key` back into `live_tree`, verified; return the paths changed.

    Idempotent: files already in their before-state are left alone. Raise SnapshotError if a
    file cannot be restored or does not verify.
    """
    entries = read(paths, key)
    files = change_dir(paths, key) / FILES_NAME
    restored: list[str] = []
    for entry in entries:
        target = live_tree / entry.path
        if _current_hash(target) == entry.sha256_before:
            continue
        try:
            if entry.existed:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, (files / entry.path).read_bytes(), mode=entry.mode)
            else:
                target.unlink(missing_ok=True)
                _fsync_directory(target.parent)
        except OSError as error:
            raise SnapshotError(error.errno or 0,
                                f"restoring {entry.path} from {key} failed: {error}") from error
        restored.append(entry.path)
        if after_each is not None:
            after_each(entry.path)
    if tree_state(live_tree, entries) != "old":
        raise SnapshotError(0, f"after restoring {key} the live tree still differs from it")
    return restored


def _fsync_directory(directory: Path) -> None:
    # A directory that is already gone has nothing left to make durable.
    try:
        fsync_directory(directory)
    except FileNotFoundError:
        return


def prune(paths: Paths, keep: int, needed: Sequence[str]) -> list[str]:
    """Delete the files of all but the newest `keep` snapshots, sparing the keys in `needed`.

    The change records stay (history is small); only snapshot files go. Return pruned keys.
    """
    try:
        keys = sorted(entry.name for entry in paths.history_dir.iterdir()
                      if (entry / MANIFEST_NAME).exists())
    except FileNotFoundError:
        return []
    pruned: list[str] = []
    for key in keys[:max(0, len(keys) - keep)]:
        if key in needed:
            continue
        directory = change_dir(paths, key)
        for path in (directory / FILES_NAME, directory / MANIFEST_NAME):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        pruned.append(key)
    return pruned
