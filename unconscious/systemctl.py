"""Talking to systemd through `systemctl`: argv lists, timeouts, an injectable command.

Everything here shells out to `systemctl` (never a shell), so unit tests swap the command for a
fake script and the e2e suite runs the real one inside a container. It also reads unit states
(`systemctl show`) and recognises a tripped restart breaker, which systemd 252 does not report
as `start-limit-hit` (systemd issue 32203): from the journal line PID 1 writes when it refuses
a start ("Start request repeated too quickly."), and where the journal cannot be read, from
the unit being failed although its Restart= policy would have restarted it.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import math
import subprocess
import time
from collections.abc import Callable
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
    "Restart",
    "ExecMainStartTimestamp",
)

#: What PID 1 logs (with UNIT=, after a "UNIT: " prefix) when the start limit refuses a start
#: (systemd 252 unit.c, unit_test_start_limit).
START_LIMIT_MESSAGE = "Start request repeated too quickly."

#: How long after a unit failed PID 1's start-limit line may still be on its way into the
#: journal: journald reads its socket asynchronously, and an OnFailure= handler (the rollback
#: unit, which asks whether the breaker tripped) starts at once.
JOURNAL_LAG_SECONDS = 3.0
#: How often the journal is read again within that lag.
JOURNAL_RETRY_SECONDS = 0.25

#: Results each Restart= policy restarts on (systemd.service(5), table 2).
_RESTARTED_ON = {
    "always": {"exit-code", "signal", "core-dump", "watchdog", "timeout"},
    "on-failure": {"exit-code", "signal", "core-dump", "watchdog", "timeout"},
    "on-abnormal": {"signal", "core-dump", "watchdog", "timeout"},
    "on-abort": {"signal", "core-dump"},
    "on-watchdog": {"watchdog"},
}


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
    #: The Restart= policy ("no", "on-failure", ...; "" when systemctl did not say).
    restart: str = ""
    #: Unix time the main process last started (None: never started since boot or reset).
    last_start: float | None = None
    #: Whether PID 1 logged START_LIMIT_MESSAGE for this unit when it last failed (None: the
    #: journal was not read or could not be).
    start_limit_logged: bool | None = None

    @property
    def breaker_evidence(self) -> str:
        """Why this unit counts as stopped by its start limit ("" when it does not).

        On systemd 252 `Result` stays `exit-code`/`watchdog` (issue 32203), and NRestarts
        counts only automatic restarts while the limit counts every start (an operator's
        restart too), so neither is used. The journal's line is the evidence; without the
        journal, a failed unit whose Restart= policy would have restarted it is one systemd
        stopped restarting.
        """
        if self.active_state != "failed":
            return ""
        if self.result == "start-limit-hit":
            return "Result=start-limit-hit"
        if self.start_limit_logged is not None:
            return f"journal: {START_LIMIT_MESSAGE}" if self.start_limit_logged else ""
        if self.result == "exit-code" and self.exit_status in self.restart_prevent_statuses:
            return ""
        if self.result in _RESTARTED_ON.get(self.restart, set()):
            return f"failed ({self.result}) although Restart={self.restart}"
        return ""

    @property
    def breaker_tripped(self) -> bool:
        """True when systemd refuses to start this unit again (its start limit is used up)."""
        return bool(self.breaker_evidence)

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
            restart=properties.get("Restart", ""),
            last_start=parse_timestamp(properties.get("ExecMainStartTimestamp", "")),
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
    #: The journalctl that confirms a tripped start limit. None: the real one beside a real
    #: `systemctl`, none beside a stand-in (tests); () never reads the journal.
    journalctl: tuple[str, ...] | None = None
    #: The wall clock and the sleep of the journal re-reads (injectable for tests).
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

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
        states = [UnitState.from_properties(block) for block in parse_show(result.stdout)]
        return [self._with_start_limit(state) for state in states]

    def _journal_command(self) -> tuple[str, ...]:
        if self.journalctl is not None:
            return self.journalctl
        return ("journalctl",) if Path(self.command[0]).name == "systemctl" else ()

    def _with_start_limit(self, state: UnitState) -> UnitState:
        """Add whether the journal says the start limit stopped a failed unit."""
        command = self._journal_command()
        if state.active_state != "failed" or state.since is None or not command:
            return state
        timeout = min(self.timeout, 15.0)
        logged = start_limit_logged(command, state.name, state.since, timeout)
        # "Not logged" right after a failure the Restart= policy would have restarted may be
        # the journal lagging behind PID 1: read it again until the lag is over. (The breaker
        # read once missed a limit that way.) Any other answer is final at once.
        # StateChangeTimestamp has whole seconds: the failure may be up to 1 s after `since`.
        # The wait is a count of retries, clamped to the lag: `since` comes from a wall-clock
        # timestamp (a zone parsed wrong or a clock stepped back must not make it an hour).
        left = min(1 + JOURNAL_LAG_SECONDS, max(0.0, state.since + 1 + JOURNAL_LAG_SECONDS - self.clock()))
        retries = math.ceil(left / JOURNAL_RETRY_SECONDS)
        restart_would_have_run = state.result != "start-limit-hit" and bool(state.breaker_evidence)
        while logged is False and restart_would_have_run and retries > 0:
            self.sleep(JOURNAL_RETRY_SECONDS)
            retries -= 1
            logged = start_limit_logged(command, state.name, state.since, timeout)
        return dataclasses.replace(state, start_limit_logged=logged)


def start_limit_logged(journalctl: tuple[str, ...], unit: str, failed_at: float,
                       timeout: float = 15.0) -> bool | None:
    """Return whether PID 1 logged START_LIMIT_MESSAGE for `unit` around `failed_at` or later.

    `failed_at` is the unit's StateChangeTimestamp (whole seconds), so the window opens 2 s
    before it. Return None when the journal cannot be read (no journalctl, timeout, error).
    """
    argv = [*journalctl, "--no-pager", "--quiet", "--output=json", "--output-fields=MESSAGE",
            f"--since=@{int(failed_at) - 2}", "_PID=1", f"UNIT={unit}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line).get("MESSAGE")
        except (ValueError, AttributeError):
            continue
        # systemd 252 writes "UNIT: Start request repeated too quickly." (the unit as prefix).
        if isinstance(message, str) and message.endswith(START_LIMIT_MESSAGE):
            return True
    return False
