"""The self-modification pause flag: set by the breaker, cleared only by `hostmind rearm`.

It lives in the unconscious layer so `rearm` (and the status screen) can read and clear it
without importing the conscious layer, which honours it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths


@dataclass(frozen=True)
class PauseState:
    """Why and since when self-modification is paused."""

    reason: str
    since: float


def pause_file(paths: Paths) -> Path:
    return paths.state_dir / "paused.json"


def read_pause(paths: Paths) -> PauseState | None:
    """Return the pause state, or None when not paused.

    An unreadable or corrupt flag file counts as paused: failing safe means no self-changes.
    """
    path = pause_file(paths)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PauseState(reason=str(data["reason"]), since=float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return PauseState(reason=f"pause flag {path} is unreadable; treated as paused", since=0.0)


def set_pause(paths: Paths, reason: str, clock: Callable[[], float] = time.time) -> PauseState:
    """Pause self-modification with `reason`. Raise AtomicWriteError if it cannot be recorded."""
    state = PauseState(reason=reason, since=clock())
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(pause_file(paths), {"reason": state.reason, "since": state.since})
    return state


def clear_pause(paths: Paths) -> bool:
    """Clear the pause; return True if there was one."""
    try:
        pause_file(paths).unlink()
    except FileNotFoundError:
        return False
    return True
