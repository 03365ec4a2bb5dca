"""The breaker: pause self-modification when restarts cascade or rollbacks repeat.

Trips when any loaded hostmind unit has exhausted its start limit (systemd 252 keeps Result at
exit-code, so `UnitState.breaker_tripped` reads ActiveState=failed plus NRestarts, docs/FACTS.md) or
after `apply.max_consecutive_rollbacks` rollbacks with no commit between. It sets the pause
flag of `unconscious.pause`; apply refuses while it is set; `hostmind rearm` clears it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from conscious.rails import history
from conscious.rails.settings import RailSettings
from unconscious.atomic import atomic_write_json
from unconscious.log import get_logger
from unconscious.paths import Paths
from unconscious.pause import PauseState, read_pause, set_pause
from unconscious.systemctl import Systemctl, SystemctlError


def tripped_units(systemctl: Systemctl) -> list[str]:
    """Return the hostmind units that exhausted their start limit ([] if systemctl can't tell)."""
    try:
        states = systemctl.show(*systemctl.loaded_units())
    except SystemctlError:
        return []
    return [state.name for state in states if state.breaker_tripped]


def check(paths: Paths, settings: RailSettings, systemctl: Systemctl) -> PauseState | None:
    """Trip the breaker if a unit exhausted its start limit; return the pause state or None."""
    current = read_pause(paths)
    if current is not None:
        return current
    tripped = tripped_units(systemctl)
    if tripped:
        return _trip(paths, f"{', '.join(tripped)} exhausted the start limit "
                            "(StartLimitBurst=) and stays failed; run `hostmind rearm` after "
                            "fixing it")
    return None


def after_rollback(paths: Paths, settings: RailSettings, systemctl: Systemctl) -> None:
    """Trip the breaker after too many rollbacks in a row, or if a unit is stuck failed."""
    if read_pause(paths) is not None:
        return
    streak = history.consecutive_rollbacks(history.list_changes(paths), since=rearmed_at(paths))
    if streak >= settings.max_consecutive_rollbacks:
        _trip(paths, f"{streak} changes in a row were rolled back "
                     f"(apply.max_consecutive_rollbacks is {settings.max_consecutive_rollbacks})"
                     "; run `hostmind rearm` to resume self-modification")
        return
    check(paths, settings, systemctl)


def rearm_file(paths: Paths) -> Path:
    return paths.state_dir / "rails-rearmed.json"


def rearmed_at(paths: Paths) -> float:
    """Return when `hostmind rearm` last ran (0.0 if never or unreadable)."""
    try:
        return float(json.loads(rearm_file(paths).read_text(encoding="utf-8"))["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def record_rearm(paths: Paths, clock: Callable[[], float] = time.time) -> None:
    """Remember that a person re-armed: rollbacks before now no longer count."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(rearm_file(paths), {"time": clock()})


def _trip(paths: Paths, reason: str) -> PauseState:
    state = set_pause(paths, reason)
    get_logger().warning("breaker_tripped", reason=reason,
                         msg=f"self-modification paused: {reason}")
    return state
