"""The `units` section of `hostmind status`: each hostmind unit's state and the breaker."""

from __future__ import annotations

import time

from unconscious.cli.output import format_age
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.status import StatusSection
from unconscious.systemctl import Systemctl, SystemctlError, UnitState, systemd_is_pid1

#: Unit types whose state is worth a line (templates and their instances only when present).
_SHOWN_SUFFIXES = (".service", ".timer", ".path", ".target")


def _since(state: UnitState, now: float) -> str:
    if state.since is None:
        return ""
    clock = time.strftime("%H:%M", time.localtime(state.since))
    return f" since {clock} ({format_age(now - state.since)} ago)"


def describe(state: UnitState, now: float | None = None) -> tuple[str, bool]:
    """Return (one status line, needs attention) for one unit."""
    since = _since(state, time.time() if now is None else now)
    if state.breaker_tripped:
        return (
            f"{state.name:<26} BREAKER TRIPPED{since}: failed after {state.restarts} restarts; "
            "fix the cause, then `hostmind rearm`",
            True,
        )
    if state.active_state == "failed":
        detail = f"failed ({state.result or 'unknown'}, exit status {state.exit_status}){since}"
        if state.exit_status == 78:
            detail += ": config error, see `hostmind config validate`"
        return f"{state.name:<26} {detail}", True
    line = f"{state.name:<26} {state.active_state} ({state.sub_state}){since}"
    if state.status_text:
        line += f": {state.status_text}"
    return line, False


def _quiet(state: UnitState) -> bool:
    """True for a unit whose state says nothing an operator needs to read line by line."""
    if state.active_state == "failed":
        return False
    if state.name.endswith((".timer", ".path", ".target")):
        return state.active_state == "active"
    # Oneshots between runs, and OnFailure= handler instances that are not running.
    return state.active_state == "inactive" and state.result in ("success", "")


def _summary(quiet: list[UnitState]) -> list[str]:
    kinds: dict[str, list[str]] = {}
    for state in quiet:
        kind = state.name.rsplit(".", 1)[-1]
        kinds.setdefault(kind, []).append(state.name.removeprefix("hostmind-").rsplit(".", 1)[0])
    lines = []
    labels = {"service": "idle, last run ok", "timer": "waiting", "path": "watching", "target": "active"}
    for kind in ("service", "timer", "path", "target"):
        names = [name for name in kinds.get(kind, []) if "@" not in name]
        if names:
            lines.append(f"{kind + 's':<9} {labels[kind]}: {', '.join(sorted(names))}")
    return lines


def section(
    context: Context, config: LoadedConfig, systemctl: Systemctl | None = None
) -> StatusSection:
    """Return the units section. Not a problem when PID 1 is not systemd (nothing to show)."""
    result = StatusSection(title="units", data={}, order=10)
    if systemctl is None:
        if not systemd_is_pid1():
            result.lines.append("PID 1 is not systemd: hostmind's units are not supervised here")
            return result
        systemctl = Systemctl(timeout=15.0)
    try:
        names = [name for name in systemctl.loaded_units() if name.endswith(_SHOWN_SUFFIXES)]
        states = systemctl.show(*names)
    except SystemctlError as problem:
        result.lines.append(f"systemctl failed: {problem}")
        result.problem = True
        return result
    if not states:
        result.lines.append("no hostmind units loaded (run `hostmind install --now`)")
        result.problem = True
    now = time.time()
    quiet = [state for state in states if _quiet(state)]
    for state in states:
        if state in quiet:
            continue
        line, attention = describe(state, now)
        result.lines.append(line)
        result.problem = result.problem or attention
    if quiet:
        result.lines.extend(_summary(quiet))
    for state in states:
        result.data[state.name] = {
            "active_state": state.active_state,
            "sub_state": state.sub_state,
            "result": state.result,
            "restarts": state.restarts,
            "breaker_tripped": state.breaker_tripped,
            "status": state.status_text,
            "since": state.since,
        }
    return result
