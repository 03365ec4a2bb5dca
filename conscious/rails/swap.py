"""Rail 6, swap: write each file of the change into the live tree, atomically and verified.

Each file goes through `atomic_write` (temp file, fsync, rename, fsync of the directory, re-read
and compare the SHA-256). If any write fails (read-only mount, disk full), the files already
written are put back as they were and Refused is raised: a failed swap is never "applied".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from conscious.rails.change import FileChange, Refused
from unconscious.atomic import atomic_write

RAIL = "swap"


def swap(live_tree: Path, changes: Sequence[FileChange],
         after_each: Callable[[str], None] | None = None) -> None:
    """Write `changes` into `live_tree`. Raise Refused (with the tree restored) on failure."""
    written: list[FileChange] = []
    for change in changes:
        target = live_tree / change.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, change.after, mode=change.mode)
        except OSError as error:
            problems = _undo(live_tree, written)
            undo = ("; the files written before it were restored" if not problems
                    else "; RESTORING FAILED for " + ", ".join(problems))
            raise Refused(RAIL, f"writing {change.path} failed: {error}{undo}") from error
        written.append(change)
        if after_each is not None:
            after_each(change.path)


def _undo(live_tree: Path, written: Sequence[FileChange]) -> list[str]:
    """Put `written` back to their before-state; return the paths that could not be."""
    problems: list[str] = []
    for change in reversed(written):
        target = live_tree / change.path
        try:
            if change.before is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, change.before, mode=change.mode)
        except OSError as error:
            problems.append(f"{change.path} ({error})")
    return problems
