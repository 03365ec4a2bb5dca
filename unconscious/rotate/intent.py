"""The rotation journal: one intent file per rotation in flight, rewritten before each step.

An intent names everything a rotation will touch (source, staging or tail file, temp archive,
final archive, the renames of older archives) and the phase reached. It is written atomically
(temp, fsync, rename, fsync dir) BEFORE each irreversible step, so after a SIGKILL the next run
reads it and either finishes the rotation or undoes it (see recovery.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from unconscious.atomic import atomic_write_json

# Phases in order. A phase is written before the step that could not be undone without it.
PLANNED = "planned"            # temp archive may be partly written; source untouched
RENAMING = "renaming"          # create: source may have been renamed to staging
VERIFIED = "verified"          # create: temp archive complete and verified from staging
HEAD_VERIFIED = "head_verified"  # copytruncate: temp archive holds the verified head
TRUNCATING = "truncating"      # copytruncate: tail file saved, source may be truncated
ARCHIVED = "archived"          # final archive in place and verified; staging/tail may remain
COMPRESSING = "compressing"    # compress: temp being written; its inode recorded once verified


@dataclass
class Intent:
    """One rotation (kind "rotate") or one delayed compression (kind "compress")."""

    kind: str
    source: str
    mode: str = "create"
    phase: str = PLANNED
    codec: str = "zstd"
    level: int | None = None
    threads: int = 0
    staging: str = ""
    tail_file: str = ""
    temp_archive: str = ""
    final_archive: str = ""
    shifts: list[list[str]] = field(default_factory=list)
    prune_keep: int = 0
    archive_dir: str = ""
    head_length: int = 0
    head_archive_length: int = 0
    prefix_length: int = 0
    prefix_sha256: str = ""
    #: The inode number of the verified temp archive (for copytruncate, the one its head went
    #: to) and of the tail file (fsutil.inode_at says why not the device): finishing
    #: and recovery trust only these files (0: not known, an intent from before they were
    #: recorded, or the file was not made yet).
    temp_inode: int = 0
    tail_inode: int = 0
    archived: list[int] = field(default_factory=list)  # bytes per frame, verified
    paused: list[list[int]] = field(default_factory=list)
    window_seconds: float = 0.0
    mtime_ns: int = 0  # the log's last write: the archive gets it, so age-based pruning is true
    rule: str = ""
    started: float = 0.0

    @property
    def key(self) -> str:
        """A stable name for this intent: one rotation per source at a time."""
        # fsencode: a name that is not UTF-8 holds lone surrogates, which .encode() refuses.
        return hashlib.sha256(os.fsencode(f"{self.kind}:{self.source}")).hexdigest()[:20]


_FIELDS = frozenset(item.name for item in fields(Intent))


def intents_dir(state_dir: Path) -> Path:
    return state_dir / "rotate" / "intents"


def save(state_dir: Path, intent: Intent) -> None:
    """Write `intent` atomically. Raise AtomicWriteError if it did not land."""
    directory = intents_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / f"{intent.key}.json", asdict(intent), mode=0o600)


def remove(state_dir: Path, intent: Intent) -> None:
    """Delete the intent of a finished or undone rotation (and make the deletion durable)."""
    path = intents_dir(state_dir) / f"{intent.key}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_all(state_dir: Path) -> tuple[list[Intent], list[str]]:
    """Return (intents found, problems): an unreadable intent is reported, never fatal."""
    directory = intents_dir(state_dir)
    found: list[Intent] = []
    problems: list[str] = []
    if not directory.is_dir():
        return found, problems
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            # A field a later version added is left out (a downgrade must still recover).
            found.append(Intent(**{key: value for key, value in data.items() if key in _FIELDS}))
        except (OSError, ValueError, TypeError) as error:
            problems.append(f"{path}: unreadable intent ({error})")
    return found, problems
