"""Talking to systemd through `systemctl`: argv lists, timeouts, an injectable command.

Everything here shells out to `systemctl` (never a shell), so unit tests swap the command for a
fake script and the e2e suite runs the real one inside a container. It also reads unit states
(`systemctl show`) and recognises a tripped restart breaker, which systemd 252 does not report
as `start-limit-hit` (systemd issue 32203).
"""

from __future__ import annotations

import calendar
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Where systemd says it is PID 1 (sd_booted(3)); absent in plain containers and chroots.
SYSTEMD_MARKER = Path("/run/systemd/system")

#: Every unit hostmind ships matches this pattern (systemctl accepts globs for loaded units).
UNIT_PATTERN = "hostmind*"

SHOW_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "NRestarts",
    "ExecMainStatus",
    "StartLimitBurst",
    "RestartPreventExitStatus",
    "StatusText",
    "UnitFileState",
    "StateChangeTimestamp",
)


class SystemctlError(RuntimeError):
    """systemctl could not be run, timed out, or exited non-zero (message says which)."""


def systemd_is_pid1(marker: Path = SYSTEMD_MARKER) -> bool:
    """Return True when the running init is systemd (the sd_booted(3) test)."""
    return marker.is_dir()


@dataclass(frozen=True)
class UnitState:
    """The parts of `systemctl show UNIT` hostmind looks at."""

    name: str
    load_state: str = ""
    active_state: str = ""
    sub_state: str = ""
    result: str = ""
    restarts: int = 0
    exit_status: int = 0
    start_limit_burst: int = 0
    restart_prevent_statuses: frozenset[int] = field(default_factory=frozenset)
    status_text: str = ""
    #: Unix time of the last state change (None when systemd has none, e.g. never started).
    since: float | None = None

    @property
    def breaker_tripped(self) -> bool:
        """True when systemd gave up restarting this unit (start limit reached).

        On systemd 252 `Result` stays `exit-code`/`watchdog`, so the sign is: failed, with as
        many automatic restarts as the burst allows, and not a config error (which
        RestartPreventExitStatus= keeps from restarting at all).
        """
        if self.active_state != "failed":
            return False
        if self.result == "start-limit-hit":
            return True
        if self.start_limit_burst <= 0 or self.exit_status in self.restart_prevent_statuses:
            return False
        return self.restarts >= self.start_limit_burst - 1

    @classmethod
    def from_properties(cls, properties: dict[str, str]) -> UnitState:
        """Build a UnitState from `systemctl show` key/value pairs (missing keys: defaults)."""
        return cls(
            name=properties.get("Id", ""),
            load_state=properties.get("LoadState", ""),
            active_state=properties.get("ActiveState", ""),
            sub_state=properties.get("SubState", ""),
            result=properties.get("Result", ""),
            restarts=_int(properties.get("NRestarts")),
            exit_status=_int(properties.get("ExecMainStatus")),
            start_limit_burst=_int(properties.get("StartLimitBurst")),
            restart_prevent_statuses=_statuses(properties.get("RestartPreventExitStatus", "")),
            status_text=properties.get("StatusText", ""),
            since=parse_timestamp(properties.get("StateChangeTimestamp", "")),
        )


def parse_timestamp(value: str) -> float | None:
    """Return the Unix time of a `systemctl show` timestamp ("Sat 2026-11-21 06:50:01 UTC")."""
    parts = value.split()
    if len(parts) < 3:
        return None
    try:
        parsed = time.strptime(f"{parts[1]} {parts[2]}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    # systemd prints the local zone; UTC is the common server setting and needs no guess.
    zone = parts[3] if len(parts) > 3 else ""
    return float(calendar.timegm(parsed)) if zone in ("UTC", "GMT") else time.mktime(parsed)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _statuses(value: str) -> frozenset[int]:
    # systemctl prints e.g. "78" or "78 SIGKILL"; only numeric exit codes matter here.
    return frozenset(int(word) for word in value.split() if word.isdigit())


def parse_show(output: str) -> list[dict[str, str]]:
    """Split `systemctl show` output (blank-line separated blocks of KEY=value) into dicts."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in output.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    return blocks


@dataclass(frozen=True)
class Systemctl:
    """A `systemctl` to run: the command (argv prefix) and a timeout for each call."""

    command: tuple[str, ...] = ("systemctl",)
    timeout: float = 90.0

    def run(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `systemctl ARGUMENTS`; return the finished process.

        Raise SystemctlError if it cannot start, times out, or (with `check`) exits non-zero.
        """
        argv = [*self.command, *arguments]
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as problem:
            raise SystemctlError(f"{argv[0]} not found: {problem}") from problem
        except subprocess.TimeoutExpired as problem:
            raise SystemctlError(
                f"`{' '.join(argv)}` timed out after {self.timeout:g} s"
            ) from problem
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise SystemctlError(f"`{' '.join(argv)}` exited {result.returncode}: {detail}")
        return result

    def daemon_reload(self) -> None:
        """Make systemd re-read unit files. Raise SystemctlError."""
        self.run("daemon-reload")

    def enable_now(self, *units: str) -> None:
        """Enable and start `units`. Raise SystemctlError."""
        self.run("enable", "--now", "--", *units)

    def disable_now(self, *units: str) -> None:
        """Disable and stop `units`; units that are not loaded are fine. Raise SystemctlError."""
        self.run("disable", "--now", "--", *units)

    def stop(self, *units: str) -> None:
        """Stop `units` (globs allowed). Raise SystemctlError."""
        self.run("stop", "--", *units)

    def start(self, *units: str) -> None:
        """Start `units`. Raise SystemctlError."""
        self.run("start", "--", *units)

    def reset_failed(self, *units: str) -> None:
        """Clear the failed state and the start-limit counters of `units`. Raise SystemctlError."""
        self.run("reset-failed", "--", *units)

    def loaded_units(self, pattern: str = UNIT_PATTERN) -> list[str]:
        """Return the names of loaded units matching `pattern`. Raise SystemctlError."""
        result = self.run("list-units", "--all", "--plain", "--no-legend", "--full", "--", pattern)
        names: list[str] = []
        for line in result.stdout.splitlines():
            words = line.split()
            # A leading bullet marks failed units in some versions' plain output.
            if words and words[0] in ("●", "*"):
                words = words[1:]
            if words:
                names.append(words[0])
        return names

    def show(self, *units: str) -> list[UnitState]:
        """Return the state of each unit, in order. Raise SystemctlError."""
        if not units:
            return []
        result = self.run("show", f"--property={','.join(SHOW_PROPERTIES)}", "--", *units)
        return [UnitState.from_properties(block) for block in parse_show(result.stdout)]
