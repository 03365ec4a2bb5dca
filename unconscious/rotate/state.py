"""hostmind-rotate's own state file: when each log was last rotated, written atomically.

A missing or corrupt state file never halts rotation: it is rebuilt from the files on disk
(the newest archive's modification time per log; now for a log without archives, so nothing is
rotated early by age) and the caller logs a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.atomic import atomic_write_json
from unconscious.json_types import JsonValue
from unconscious.rotate.naming import list_archives
from unconscious.rotate.rules import Rule

VERSION = 1


@dataclass
class LogState:
    """What is remembered about one log between runs."""

    last_rotated: float
    over_limit_runs: int = 0
    last_size: int = 0


@dataclass
class RotateState:
    """Every log's state, keyed by absolute path."""

    logs: dict[str, LogState] = field(default_factory=dict)

    def get(self, rule: Rule, path: Path, now: float) -> LogState:
        """Return the state of `path`, rebuilt from its archives if unknown."""
        key = str(path)
        if key not in self.logs:
            self.logs[key] = rebuilt(rule, path, now)
        return self.logs[key]


def state_path(state_dir: Path) -> Path:
    return state_dir / "rotate" / "state.json"


def rebuilt(rule: Rule, path: Path, now: float) -> LogState:
    """Return a log's state as the disk tells it: its newest archive's mtime, else `now`."""
    archives = list_archives(rule, path)
    newest = max((archive.mtime for archive in archives), default=now)
    return LogState(last_rotated=newest)


def load(state_dir: Path, expected: bool = False) -> tuple[RotateState, str | None]:
    """Return (state, warning). The warning says why the file was unusable; logs then rebuild.

    A missing file is normal on a first run; when `expected` (an earlier run left evidence) it
    is reported like a corrupt one.
    """
    path = state_path(state_dir)
    try:
        data: JsonValue = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if expected:
            return RotateState(), (f"{path}: missing although rotation ran before; "
                                   "rebuilt from the archives on disk")
        return RotateState(), None
    except (OSError, ValueError) as error:
        return RotateState(), f"{path}: unreadable ({error}); rebuilt from the archives on disk"
    try:
        logs = _logs(data)
    except (KeyError, TypeError, ValueError) as error:
        return RotateState(), f"{path}: not a valid state file ({error}); rebuilt from the archives on disk"
    return RotateState(logs), None


def _logs(data: JsonValue) -> dict[str, LogState]:
    """Return the logs of a parsed state file. Raise KeyError, TypeError or ValueError if malformed."""
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    if data.get("version") != VERSION:
        raise ValueError(f"version {data.get('version')!r}")
    logs = data["logs"]
    if not isinstance(logs, dict):
        raise TypeError("'logs' is not an object")
    found: dict[str, LogState] = {}
    for key, value in logs.items():
        if not isinstance(value, dict):
            raise TypeError(f"{key}: not an object")
        found[key] = LogState(last_rotated=_number(value["last_rotated"]),
                              over_limit_runs=int(_number(value.get("over_limit_runs", 0))),
                              last_size=int(_number(value.get("last_size", 0))))
    return found


def _number(value: JsonValue) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def save(state_dir: Path, state: RotateState) -> None:
    """Write the state atomically. Raise AtomicWriteError if it did not land."""
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {
        "version": VERSION,
        "logs": {key: {"last_rotated": value.last_rotated, "over_limit_runs": value.over_limit_runs,
                       "last_size": value.last_size}
                 for key, value in sorted(state.logs.items())},
    })
