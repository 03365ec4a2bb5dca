"""The `units` section of `hostmind status`: each hostmind unit's state and the breaker."""

from __future__ import annotations

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.status import StatusSection
from unconscious.systemctl import Systemctl, SystemctlError, UnitState, systemd_is_pid1

#: Unit types whose state is worth a line (templates and their instances only when present).
_SHOWN_SUFFIXES = (".service", ".timer", ".path", ".target")


def describe(state: UnitState) -> tuple[str, bool]:
    """Return (one status line, needs attention) for one unit."""
    if state.breaker_tripped:
        return (
            f"{state.name:<34} BREAKER TRIPPED: failed after {state.restarts} restarts; "
            "fix the cause, then `hostmind rearm`",
            True,
        )
    if state.active_state == "failed":
        detail = f"failed ({state.result or 'unknown'}, exit status {state.exit_status})"
        if state.exit_status == 78:
            detail += ": config error, see `hostmind config validate`"
        return f"{state.name:<34} {detail}", True
    line = f"{state.name:<34} {state.active_state} ({state.sub_state})"
    if state.status_text:
        line += f": {state.status_text}"
    return line, False


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
    for state in states:
        line, attention = describe(state)
        result.lines.append(line)
        result.problem = result.problem or attention
        result.data[state.name] = {
            "active_state": state.active_state,
            "sub_state": state.sub_state,
            "result": state.result,
            "restarts": state.restarts,
            "breaker_tripped": state.breaker_tripped,
            "status": state.status_text,
        }
    return result
