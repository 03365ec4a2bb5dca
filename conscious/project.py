"""The active multi-cycle project: what the conscious layer is working towards across cycles.

Kept in `{state}/conscious/project.json` (atomic). The model names, advances, finishes or
abandons it through the `project` part of its reply; a finished or abandoned project is kept
as `last` so the next one can start from what it learned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.json_types import JsonObject, JsonValue

STATUSES = ("active", "done", "abandoned")


class ProjectState(TypedDict):
    """The project file: the active project and the last one finished (objects, or None)."""

    active: JsonValue
    last: JsonValue


def project_path(paths: Paths) -> Path:
    return paths.state_dir / "conscious" / "project.json"


def read_project(paths: Paths) -> ProjectState:
    """Return `{"active": {...} | None, "last": {...} | None}`; unreadable counts as none."""
    try:
        data = json.loads(project_path(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"active": None, "last": None}
    if not isinstance(data, dict):
        return {"active": None, "last": None}
    return {"active": data.get("active"), "last": data.get("last")}


def _cycles(value: JsonValue) -> int:
    """Return the recorded cycle count as a number (`int()` of it, as written)."""
    if isinstance(value, bool | int | float | str):
        return int(value)
    raise TypeError(f"project cycles: {value!r} is not a number")


def update_project(paths: Paths, reported: JsonObject | None,
                   clock: Callable[[], float] = time.time) -> ProjectState:
    """Merge the model's `reported` project into the state; return the new state.

    Raise AtomicWriteError if it cannot be written.
    """
    state = read_project(paths)
    if not reported or not str(reported.get("name", "")).strip():
        return state
    now = clock()
    active = state["active"] if isinstance(state["active"], dict) else None
    same = active is not None and active.get("name") == reported.get("name")
    status = str(reported.get("status", "active"))
    earlier: JsonObject = active or {}
    project: JsonObject = {
        "name": str(reported["name"])[:200],
        "goal": str(reported.get("goal") or earlier.get("goal", ""))[:1000],
        "next_step": str(reported.get("next_step", ""))[:1000],
        "status": status if status in STATUSES else "active",
        "started": earlier.get("started", now) if same else now,
        "updated": now,
        "cycles": _cycles(earlier.get("cycles", 0)) + 1 if same else 1,
    }
    if project["status"] == "active":
        state = {"active": project, "last": state["last"] if same else active or state["last"]}
    else:
        state = {"active": None, "last": project}
    project_path(paths).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(project_path(paths), state)
    return state
