"""The `units` section of `hostmind status`: each hostmind unit's state and the breaker.

States come from evidence: systemd's (`systemctl show`, and the journal line PID 1 writes when
a start limit refuses a start) and hostmind's own evidence records, so a oneshot that never ran
is not "ok", and one whose last run exited 0 but recorded a failure is not "ok" either.
"""

from __future__ import annotations

import time

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.paths import Paths
from unconscious.status import StatusSection
from unconscious.systemctl import Systemctl, SystemctlError, UnitState, systemd_is_pid1
from unconscious.timefmt import format_age

#: Unit types whose state is worth a line (templates and their instances only when present).
_SHOWN_SUFFIXES = (".service", ".timer", ".path", ".target")

#: What counts toward the breaker, said wherever the breaker is shown.
BREAKER_RULE = ("its start limit (StartLimitBurst= starts per StartLimitIntervalSec=) counts "
                "every start, automatic or by hand (`systemctl restart` too)")


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
            f"{state.name:<26} BREAKER TRIPPED{since}: systemd refuses to start it again "
            f"({state.breaker_evidence}); {BREAKER_RULE}. Fix the cause, then run "
            "`hostmind rearm`",
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


def _short(name: str) -> str:
    return name.removeprefix("hostmind-").rsplit(".", 1)[0]


def service_label(state: UnitState, paths: Paths | None) -> str:
    """How an idle service's last run went, from evidence: never run, ok, or failed."""
    record = read_evidence(paths, _short(state.name)) if paths is not None else None
    if record is not None and record.last_error:
        return "idle, last run FAILED (see evidence)"
    if record is not None and record.last_ok is not None:
        return "idle, last run ok"
    if state.last_start is None:
        return "idle, never run"
    return "idle, last run exited 0"


def _summary(quiet: list[UnitState], paths: Paths | None = None) -> list[str]:
    groups: dict[tuple[str, str], list[str]] = {}
    labels = {"timer": "waiting", "path": "watching", "target": "active"}
    for state in quiet:
        kind = state.name.rsplit(".", 1)[-1]
        if "@" in state.name:
            continue
        label = service_label(state, paths) if kind == "service" else labels.get(kind, "")
        groups.setdefault((kind, label), []).append(_short(state.name))
    order = {"service": 0, "timer": 1, "path": 2, "target": 3}
    return [f"{kind + 's':<9} {label}: {', '.join(sorted(names))}"
            for (kind, label), names in sorted(groups.items(),
                                               key=lambda item: (order.get(item[0][0], 9), item[0][1]))]


def _attention_reason(state: UnitState) -> str:
    if state.breaker_tripped:
        return f"{_short(state.name)} breaker tripped (`hostmind rearm` after fixing it)"
    if state.exit_status == 78:
        return f"{_short(state.name)} failed on a config error"
    return f"{_short(state.name)} failed"


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
        result.flag(f"systemctl failed: {problem}")
        return result
    if not states:
        result.lines.append("no hostmind units loaded (run `hostmind install --now`)")
        result.flag("no hostmind units loaded")
    now = time.time()
    quiet = [state for state in states if _quiet(state)]
    for state in states:
        if state in quiet:
            continue
        line, attention = describe(state, now)
        result.lines.append(line)
        if attention:
            result.flag(_attention_reason(state))
    if quiet:
        result.lines.extend(_summary(quiet, context.paths))
    for state in states:
        result.data[state.name] = {
            "active_state": state.active_state,
            "sub_state": state.sub_state,
            "result": state.result,
            "restarts": state.restarts,
            "breaker_tripped": state.breaker_tripped,
            "breaker_evidence": state.breaker_evidence,
            "status": state.status_text,
            "since": state.since,
            "last_start": state.last_start,
        }
    return result
