"""The on-disk mark of a change that is swapped in but not yet committed or rolled back.

Written before the first byte of the swap and removed only after the outcome is recorded, so
an apply process that dies (SIGKILL, reboot) leaves it behind and the recovery at the next
apply start, or `hostmind-rollback@`, finds the change to restore.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths


@dataclass(frozen=True)
class ProbationMark:
    """Which change is in probation, which units it restarted, since when, by which process."""

    key: str
    units: tuple[str, ...]
    since: float
    pid: int

    def to_json(self) -> dict[str, str | list[str] | float | int]:
        return {"key": self.key, "units": list(self.units), "since": self.since,
                "pid": self.pid}


def mark_path(paths: Paths) -> Path:
    return paths.state_dir / "probation.json"


def mark(paths: Paths, key: str, units: tuple[str, ...]) -> ProbationMark:
    """Record that `key` is about to be swapped in. Raise AtomicWriteError."""
    made = ProbationMark(key, units, time.time(), os.getpid())
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(mark_path(paths), made.to_json())
    return made


def read_mark(paths: Paths) -> ProbationMark | None:
    """Return the mark, or None. A corrupt mark is reported with key '' (still in probation)."""
    path = mark_path(paths)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return ProbationMark(str(value["key"]), tuple(value.get("units", ())),
                             float(value["since"]), int(value.get("pid", 0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return ProbationMark("", (), 0.0, 0)


def clear(paths: Paths) -> None:
    """Remove the mark (the outcome is recorded)."""
    mark_path(paths).unlink(missing_ok=True)
