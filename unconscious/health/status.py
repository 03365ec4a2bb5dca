"""The `checks` section of `hostmind status`, read from the running service's checks.json.

checks.json is rewritten every 30 s, while the unit's STATUS= changes at once. Under systemd the
section therefore leads with what the unit says now (STATUS=, from `systemctl show`), says how
old the per-check lines are, and says plainly when hostmind-health is not running, so the two
never silently disagree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.health.report import state_file
from unconscious.json_types import JsonObject, JsonValue
from unconscious.status import StatusSection
from unconscious.systemctl import Systemctl, SystemctlError, parse_show, systemd_is_pid1
from unconscious.timefmt import format_age

#: checks.json is rewritten every 30 s; older than this means the service is not running.
STALE_AFTER = 300.0
UNIT = "hostmind-health.service"

HealthUnit = dict[str, str]


def health_unit(systemctl: Systemctl | None = None) -> HealthUnit | None:
    """Return ActiveState, SubState, StatusText, MainPID of the health unit (None: no systemd)."""
    if systemctl is None:
        if not systemd_is_pid1():
            return None
        systemctl = Systemctl(timeout=15.0)
    try:
        output = systemctl.run("show", "--property=ActiveState,SubState,StatusText,MainPID",
                               "--", UNIT).stdout
    except SystemctlError as problem:
        return {"ActiveState": "unknown", "SubState": str(problem)}
    blocks = parse_show(output)
    return blocks[0] if blocks else None


def section(context: Context, config: LoadedConfig, clock: Callable[[], float] = time.time,
            unit: HealthUnit | bool | None = True) -> StatusSection:
    """Return one line per check (failing first) under a header that agrees with STATUS=.

    `unit` is the health unit's state (tests); True asks systemd, None means no systemd.
    """
    asked = health_unit() if unit is True else unit
    state: HealthUnit | None = asked if isinstance(asked, dict) else None
    result = StatusSection(title="checks", data={}, order=20)
    running = _unit_lines(result, state)
    data = _read(result, context)
    if data is None:
        if running is not False:
            result.flag("no check results")
        return result
    updated = data.get("updated")
    age = max(0.0, clock() - (float(updated) if isinstance(updated, int | float) else 0.0))
    result.data = {**data, "age_seconds": age, "unit": state}
    if running and state is not None:
        written_by = "" if str(data.get("pid")) == state.get("MainPID") else \
            " (written by an earlier hostmind-health process)"
        result.lines.append(f"per-check results below as of {format_age(age)} ago{written_by}")
    else:
        result.lines.append(f"{data.get('summary', '')} (as of {format_age(age)} ago)")
    if age > STALE_AFTER and running is not False:
        result.lines.append(f"STALE: results are {format_age(age)} old; hostmind-health is not updating them")
        result.flag(f"check results {format_age(age)} old")
    checks = data["checks"]
    _check_lines(result, checks if isinstance(checks, dict) else {})
    return result


def _unit_lines(result: StatusSection, state: HealthUnit | None) -> bool | None:
    """Add what the unit says; return True running, False not running, None no systemd."""
    if state is None:
        return None
    active, sub = state.get("ActiveState", ""), state.get("SubState", "")
    if active in ("active", "reloading"):
        result.lines.append(f"now (STATUS=): {state.get('StatusText') or '(no status yet)'}")
        return True
    result.lines.append(f"hostmind-health is {active} ({sub}): NOT RUNNING; the results below "
                        "are not being updated")
    result.flag(f"hostmind-health not running ({active})")
    return False


def _read(result: StatusSection, context: Context) -> JsonObject | None:
    path = state_file(context.paths)
    try:
        data: JsonValue = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        result.lines.append(f"no check results yet ({path} missing: is hostmind-health running?)")
        return None
    except (OSError, ValueError) as problem:
        result.lines.append(f"cannot read {path}: {problem}")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), dict):
        result.lines.append(f"{path} is not a health state file")
        return None
    return data


def _check_lines(result: StatusSection, checks: JsonObject) -> None:
    rank = {"failing": 0, "timeout": 1, "skipped": 2, "pending": 3, "ok": 4}
    entries = {name: check for name, check in checks.items() if isinstance(check, dict)}
    for name, check in sorted(entries.items(),
                              key=lambda item: (rank.get(str(item[1].get("state")), 5), item[0])):
        state = str(check.get("state", "?"))
        if state in ("failing", "timeout"):
            result.flag(f"check {name} {state}")
        result.lines.append(f"{name:<20} {state:<8} {check.get('summary', '')}")
