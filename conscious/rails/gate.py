"""Rail 7, restart and health gate: the changed units must come up and stay up.

`restart` asks systemd to restart each unit (`--no-block`, so the gate's own timeout bounds the
wait). `wait_active` then reads `systemctl show` until every unit is `active` with a main
process started after the restart (for Type=notify that means READY=1 was sent), or, for a
Type=oneshot unit, until its new run finished with Result=success; it fails at once if a unit
fails or systemd schedules an automatic restart. `probation` keeps reading for
the probation window: any exit, restart or state change fails the gate.

On systemd 252 a manual restart resets NRestarts, so a crash is recognised by the start time
of the main process (ExecMainStartTimestampMonotonic) changing, not by the counter alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conscious.rails.change import Refused
from unconscious.systemctl import Systemctl, SystemctlError, parse_show

RAIL = "gate"
PROPERTIES = ("Id", "Type", "ActiveState", "SubState", "Result", "NRestarts",
              "ExecMainStartTimestampMonotonic", "ExecMainPID")


@dataclass(frozen=True)
class UnitReading:
    """What `systemctl show` said about a unit at one moment."""

    unit: str
    active_state: str
    sub_state: str
    result: str
    restarts: int
    started: int
    main_pid: int
    kind: str = "simple"

    @property
    def oneshot(self) -> bool:
        return self.kind == "oneshot"

    def describe(self) -> str:
        return (f"{self.unit} is {self.active_state}/{self.sub_state} (result {self.result}, "
                f"NRestarts {self.restarts})")


def _int(value: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def read_units(systemctl: Systemctl, units: Sequence[str]) -> dict[str, UnitReading]:
    """Return a reading per unit. Raise Refused if systemctl cannot tell."""
    if not units:
        return {}
    try:
        done = systemctl.run("show", f"--property={','.join(PROPERTIES)}", "--", *units)
    except SystemctlError as error:
        raise Refused(RAIL, str(error)) from error
    readings: dict[str, UnitReading] = {}
    for unit, block in zip(units, parse_show(done.stdout), strict=False):
        readings[unit] = UnitReading(
            unit=unit, active_state=block.get("ActiveState", ""),
            sub_state=block.get("SubState", ""), result=block.get("Result", ""),
            restarts=_int(block.get("NRestarts", "")),
            started=_int(block.get("ExecMainStartTimestampMonotonic", "")),
            main_pid=_int(block.get("ExecMainPID", "")), kind=block.get("Type", "simple"))
    missing = [unit for unit in units if unit not in readings]
    if missing:
        raise Refused(RAIL, f"systemctl show said nothing about {', '.join(missing)}")
    return readings


def restart(systemctl: Systemctl, units: Sequence[str]) -> dict[str, UnitReading]:
    """Read the units, then restart them; return the readings from before. Raise Refused."""
    before = read_units(systemctl, units)
    for unit in units:
        try:
            systemctl.run("restart", "--no-block", "--", unit)
        except SystemctlError as error:
            raise Refused(RAIL, f"restarting {unit} failed: {error}") from error
    return before


def wait_active(systemctl: Systemctl, before: dict[str, UnitReading], timeout: float,
                poll: float, sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic) -> dict[str, UnitReading]:
    """Wait until each unit runs a new main process; return those readings. Raise Refused."""
    deadline = clock() + timeout
    while True:
        now = read_units(systemctl, list(before))
        for reading in now.values():
            if reading.active_state == "failed":
                raise Refused(RAIL, f"{reading.describe()} after the restart")
            if reading.sub_state == "auto-restart":
                raise Refused(RAIL, f"{reading.unit} exited after the restart and systemd is "
                                    f"restarting it ({reading.describe()})")
        if all(_started_well(reading, before[unit]) for unit, reading in now.items()):
            return now
        if clock() >= deadline:
            late = [reading.describe() for unit, reading in now.items()
                    if not _started_well(reading, before[unit])]
            raise Refused(RAIL, f"not active within {timeout:g} s (apply.gate_timeout): "
                                + "; ".join(late))
        sleep(poll)


def _started_well(reading: UnitReading, before: UnitReading) -> bool:
    """A new main process is up; for a oneshot unit, a new run finished successfully."""
    if reading.started == before.started:
        return False
    if reading.oneshot:
        return reading.active_state in ("inactive", "active") and reading.result == "success"
    return reading.active_state == "active"


def probation(systemctl: Systemctl, started: dict[str, UnitReading], seconds: float,
              poll: float, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic,
              on_poll: Callable[[], None] | None = None) -> None:
    """Watch the units for `seconds`; raise Refused at the first exit, restart or failure."""
    deadline = clock() + seconds
    while True:
        # A oneshot unit has nothing left running to watch; its run already succeeded.
        watched = [unit for unit, reading in started.items() if not reading.oneshot]
        now = read_units(systemctl, watched)
        for unit, reading in now.items():
            first = started[unit]
            if reading.active_state != "active":
                raise Refused(RAIL, f"during probation {reading.describe()}")
            if reading.started != first.started or reading.restarts != first.restarts:
                raise Refused(RAIL, f"during probation {unit} was restarted (its main process "
                                    f"was replaced; NRestarts {first.restarts} -> "
                                    f"{reading.restarts})")
        if on_poll is not None:
            on_poll()
        remaining = deadline - clock()
        if remaining <= 0:
            return
        sleep(min(poll, remaining))
